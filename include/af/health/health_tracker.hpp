#pragma once

#include <string>

#include "af/util/boot_clock.hpp"

namespace af::health {

/// Turns check results into a verdict: `threshold` failures in a row after the start period
/// (failures inside it do not count; a success ends it early). Pure: time is passed in.
class HealthTracker {
  public:
    HealthTracker(int threshold, Duration start_period)
        : threshold_(threshold), start_period_(start_period) {}

    /// New limits (SIGHUP); the count so far is kept.
    void set_limits(int threshold, Duration start_period) {
        threshold_ = threshold;
        start_period_ = start_period;
    }
    void reset(TimePoint started) {
        started_ = started;
        failures_ = 0;
        seen_success_ = false;
    }
    /// Records one result; true when the process must now be treated as failed.
    bool record(bool ok, TimePoint now) {
        if (ok) {
            failures_ = 0;
            seen_success_ = true;
            return false;
        }
        if (!seen_success_ && now - started_ < start_period_)
            return false;
        if (++failures_ < threshold_)
            return false;
        failures_ = 0;
        return true;
    }
    std::string state() const {
        if (failures_ > 0)
            return "failing " + std::to_string(failures_) + "/" + std::to_string(threshold_);
        return seen_success_ ? "healthy" : "starting";
    }

  private:
    int threshold_;
    Duration start_period_;
    TimePoint started_{};
    int failures_{0};
    bool seen_success_{false};
};

}  // namespace af::health
