#include "af/util/boot_timer.hpp"

#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>
#include <utility>

namespace af {

namespace timerfd {

int create() {
    const int fd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0)
        throw std::system_error(errno, std::generic_category(), "timerfd_create(CLOCK_BOOTTIME)");
    return fd;
}

namespace {
/// The raw system call, not libc's wrapper: an LD_PRELOADed time shim (libfaketime, which the
/// chaos suite uses to move one host's wall clock) rewrites absolute timerfd instants as if they
/// were on the shifted wall clock, whatever the timer's clock, and the timer then fires at once
/// on every arming: the event loop spins. Nothing legitimate needs to intercept this call.
int settime(int fd, int flags, const itimerspec& spec) {
    return static_cast<int>(syscall(SYS_timerfd_settime, fd, flags, &spec, nullptr));
}
}  // namespace

void arm_at(int fd, TimePoint at) {
    const auto ns = at.time_since_epoch().count();
    itimerspec spec{};
    // 0 disarms a timerfd: the earliest representable instant stands for "already due".
    spec.it_value.tv_sec = ns > 0 ? static_cast<time_t>(ns / 1000000000) : 0;
    spec.it_value.tv_nsec = ns > 0 ? static_cast<long>(ns % 1000000000) : 1;
    if (settime(fd, TFD_TIMER_ABSTIME, spec) != 0)
        throw std::system_error(errno, std::generic_category(), "timerfd_settime");
}

void disarm(int fd) {
    itimerspec spec{};
    if (settime(fd, 0, spec) != 0)
        throw std::system_error(errno, std::generic_category(), "timerfd_settime (disarm)");
}

bool consume(int fd) {
    std::uint64_t expirations = 0;
    return read(fd, &expirations, sizeof expirations) == sizeof expirations && expirations > 0;
}

}  // namespace timerfd

BootTimer::BootTimer(boost::asio::io_context& io) : fd_(io, timerfd::create()) {}

void BootTimer::expires_at(TimePoint at) {
    fd_.cancel();
    if (at == TimePoint::max())
        timerfd::disarm(fd_.native_handle());
    else
        timerfd::arm_at(fd_.native_handle(), at);
}

void BootTimer::async_wait(Handler h) {
    fd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                   [this, h = std::move(h)](const boost::system::error_code& ec) mutable {
                       if (ec) {
                           h(ec);
                           return;
                       }
                       // Readable but nothing to read: re-armed after this wait completed.
                       if (!timerfd::consume(fd_.native_handle())) {
                           async_wait(std::move(h));
                           return;
                       }
                       h(ec);
                   });
}

void BootTimer::cancel() {
    fd_.cancel();
    timerfd::disarm(fd_.native_handle());
}

}  // namespace af
