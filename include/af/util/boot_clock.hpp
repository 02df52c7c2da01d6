#pragma once

#include <chrono>
#include <cstdint>

namespace af {

/// CLOCK_BOOTTIME as a std::chrono clock. Unlike CLOCK_MONOTONIC it keeps counting while the
/// machine is suspended, so a lease deadline measured on it cannot silently stretch across a
/// suspend or VM pause. Wall-clock steps never affect it.
struct boot_clock {
    using duration = std::chrono::nanoseconds;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::time_point<boot_clock>;
    static constexpr bool is_steady = true;

    static time_point now() noexcept;
};

using Duration = std::chrono::milliseconds;
using TimePoint = boot_clock::time_point;

/// Milliseconds since the clock's epoch, for logs and the guard's wire protocol.
inline std::int64_t to_ms(TimePoint t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace af
