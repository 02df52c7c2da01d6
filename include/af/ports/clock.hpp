#pragma once

#include <functional>
#include <memory>

#include "af/util/boot_clock.hpp"

namespace af::ports {

/// A one-shot timer on the Clock's time line. Arming it again replaces the pending wait (the
/// old callback is dropped, never called); destroying it drops the pending wait too.
class Timer {
  public:
    virtual ~Timer() = default;
    /// Calls `fire` on the event loop once the clock reads `when` or later. An instant already
    /// past fires on the next turn of the loop, never inside this call.
    virtual void at(TimePoint when, std::function<void()> fire) = 0;
    virtual void cancel() = 0;
};

/// The daemon's only source of time: the boot clock (it counts through suspend) and timers that
/// wait on it. The shell reads no clock of its own, so a test can run it on simulated time and
/// jump the clock as a suspend does.
class Clock {
  public:
    virtual ~Clock() = default;
    virtual TimePoint now() const = 0;
    virtual std::unique_ptr<Timer> timer() = 0;
};

}  // namespace af::ports
