#include "af/db/mailbox.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <stdexcept>

namespace af::db {

WakeFd::WakeFd() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (fd_ < 0)
        throw std::runtime_error("eventfd failed");
}

WakeFd::~WakeFd() {
    close(fd_);
}

void WakeFd::notify() {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = write(fd_, &one, sizeof one);
}

bool WakeFd::wait(TimePoint until, int socket) {
    int timeout = -1;
    if (until != TimePoint::max()) {
        // Rounded up: waking a millisecond early would only find nothing due and sleep again.
        const TimePoint now = boot_clock::now();
        const auto ms = until <= now ? 0 : std::chrono::ceil<Duration>(until - now).count();
        timeout = static_cast<int>(std::min<std::int64_t>(ms, INT_MAX));
    }
    pollfd fds[2] = {{fd_, POLLIN, 0}, {socket, POLLIN, 0}};
    if (poll(fds, socket >= 0 ? 2 : 1, timeout) <= 0)
        return false;
    if (fds[0].revents & POLLIN) {
        std::uint64_t v;
        [[maybe_unused]] auto r = read(fd_, &v, sizeof v);
    }
    return socket >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR));
}

}  // namespace af::db
