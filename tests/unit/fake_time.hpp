#pragma once

// The core's tests run on a fake clock: instants are milliseconds from the boot clock's epoch.
#include <chrono>

#include "af/util/boot_clock.hpp"

namespace af::test {

inline TimePoint t(long long ms) {
    return TimePoint{} + std::chrono::milliseconds(ms);
}

}  // namespace af::test
