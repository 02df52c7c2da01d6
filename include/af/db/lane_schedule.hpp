#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "af/util/boot_clock.hpp"

namespace af::db {

/// Which renewal lane sends what, and when a second copy (a hedge) goes out. Pure: no threads,
/// no I/O, the time passed in. RenewLanes runs it under its lock.
///
/// Every copy reports its own send time to the core, so the deadline rule holds unchanged: the
/// deadline counts from the send time of the last confirmed renewal, whichever copy it was.
class LaneSchedule {
  public:
    struct Send {
        std::size_t lane;
        std::int64_t term;
    };

    LaneSchedule(std::size_t lanes, Duration hedge_after);

    /// A renewal the core asks for: on an idle lane (taking turns, so every connection stays
    /// warm), or nothing when every lane is busy (the core resends when it is overdue).
    std::optional<Send> request(std::int64_t term, TimePoint now);
    /// A copy of the oldest renewal unanswered for hedge_after, on an idle lane; each request
    /// is copied once.
    std::optional<Send> hedge(TimePoint now);
    /// When hedge() will next have something to send (TimePoint::max() if nothing is waiting).
    TimePoint next_hedge() const;
    /// The lane finished. Returns whether its failure should be reported to the core: not when
    /// another copy of the same renewal was confirmed, or is still out (its answer decides).
    bool done(std::size_t lane, bool ok);

    std::size_t busy() const;

  private:
    struct Lane {
        bool busy{false};
        std::int64_t term{0};
        std::uint64_t request{0};  ///< copies of one request share the number
        TimePoint since{};
        bool hedged{false};
    };
    std::optional<std::size_t> idle_lane();

    std::vector<Lane> lanes_;
    Duration hedge_after_;
    std::size_t next_{0};
    std::uint64_t seq_{0};
    std::uint64_t last_confirmed_{0};  ///< the newest request with a confirmed copy
};

}  // namespace af::db
