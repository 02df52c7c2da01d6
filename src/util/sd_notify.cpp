#include "af/util/sd_notify.hpp"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdint>

namespace af::sd {

bool notify(const std::string& state) {
    return sd_notify(0, state.c_str()) > 0;
}

std::chrono::microseconds watchdog_interval() {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0)
        return std::chrono::microseconds{0};
    return std::chrono::microseconds{static_cast<std::int64_t>(usec)};
}

std::string monotonic_usec_field() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const auto usec = static_cast<long long>(ts.tv_sec) * 1000000LL + ts.tv_nsec / 1000;
    return "MONOTONIC_USEC=" + std::to_string(usec);
}

}  // namespace af::sd
