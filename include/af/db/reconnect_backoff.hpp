#pragma once

#include <algorithm>

#include "af/util/boot_clock.hpp"

namespace af::db {

/// When a connection owned by one thread (DbWorker's main connection, each renewal lane) may be
/// opened again after it failed or broke: 100 ms after the first failure, doubling up to 2 s, so
/// a down database is asked about twice a second at most; an open resets it. Pure: time is
/// passed in (tests/unit/reconnect_backoff_test.cpp).
class ReconnectBackoff {
  public:
    bool due(TimePoint now) const { return now >= next_; }
    void failed(TimePoint now) {
        next_ = now + delay_;
        delay_ = std::min(delay_ * 2, k_max);
    }
    void opened() {
        delay_ = k_initial;
        next_ = {};
    }

  private:
    static constexpr Duration k_initial{100};
    static constexpr Duration k_max{2000};
    Duration delay_{k_initial};
    TimePoint next_{};
};

}  // namespace af::db
