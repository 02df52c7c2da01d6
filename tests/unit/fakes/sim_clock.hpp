#pragma once

// The Clock port on simulated time: a discrete-event loop. Nothing runs by itself; the test
// moves time with run_for / run_until, and everything due runs in time order, the clock set to
// each item's instant. jump() moves the clock without running anything, as a suspend does.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <utility>

#include "af/ports/clock.hpp"

namespace af::fakes {

class SimClock : public ports::Clock {
  public:
    using Key = std::pair<TimePoint, std::uint64_t>;

    explicit SimClock(TimePoint start = TimePoint{} + std::chrono::hours(1)) : now_(start) {}

    TimePoint now() const override { return now_; }
    std::unique_ptr<ports::Timer> timer() override;

    /// Runs `fn` at `at` (or on the next run if `at` is past); returns a key for cancel().
    Key post_at(TimePoint at, std::function<void()> fn) {
        const Key k{std::max(at, now_), next_++};
        queue_.emplace(k, std::move(fn));
        return k;
    }
    Key post(Duration after, std::function<void()> fn) {
        return post_at(now_ + after, std::move(fn));
    }
    void cancel(const Key& k) { queue_.erase(k); }

    /// Runs what is due up to `until`, then leaves the clock at `until`.
    void run_until(TimePoint until) {
        while (!queue_.empty() && queue_.begin()->first.first <= until) {
            auto it = queue_.begin();
            now_ = std::max(now_, it->first.first);
            auto fn = std::move(it->second);
            queue_.erase(it);
            fn();
        }
        now_ = std::max(now_, until);
    }
    void run_for(Duration d) { run_until(now_ + d); }
    /// Runs until `done` holds (checked after each item) or `limit` has passed; true if it held.
    bool run_until(const std::function<bool()>& done, Duration limit) {
        const TimePoint end = now_ + limit;
        while (!done()) {
            if (queue_.empty() || queue_.begin()->first.first > end) {
                now_ = end;
                return done();
            }
            run_until(queue_.begin()->first.first);
        }
        return true;
    }
    /// A suspend (or a VM pause): the clock moves on by `d` and nothing runs meanwhile. What
    /// fell due runs on the next run_*.
    void jump(Duration d) { now_ += d; }

  private:
    TimePoint now_;
    std::uint64_t next_{0};
    std::map<Key, std::function<void()>> queue_;
};

class SimTimer : public ports::Timer {
  public:
    explicit SimTimer(SimClock& c) : clock_(c) {}
    ~SimTimer() override { cancel(); }
    void at(TimePoint when, std::function<void()> fire) override {
        cancel();
        armed_ = true;
        key_ = clock_.post_at(when, [this, fire = std::move(fire)] {
            armed_ = false;
            fire();
        });
    }
    void cancel() override {
        if (armed_)
            clock_.cancel(key_);
        armed_ = false;
    }

  private:
    SimClock& clock_;
    SimClock::Key key_{};
    bool armed_{false};
};

inline std::unique_ptr<ports::Timer> SimClock::timer() {
    return std::make_unique<SimTimer>(*this);
}

}  // namespace af::fakes
