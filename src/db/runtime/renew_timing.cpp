#include "af/db/renew_timing.hpp"

#include <algorithm>

namespace af::db {

RenewTiming renew_timing(const core::LeaseTimings& lease) {
    const Duration ttl = lease.ttl;
    // A renewal confirmed after sent + ttl - fence_margin arrives after the core has already
    // killed the processes: nothing is gained by waiting longer for it.
    const Duration useful = std::max(Duration{100}, ttl - lease.fence_margin);
    // Half a renewal interval: on a healthy link an answer takes about a millisecond, so a copy
    // is sent only when something is wrong (a lost segment, a stalled backend), and it goes out
    // before the core's resend at one full interval.
    const Duration hedge = std::max(Duration{20}, lease.renew_interval / 2);
    // The connection is idle between two uses of the lane (a few renewal intervals): probe it
    // after a second, and give up on a dead peer within about a second and a half more.
    return RenewTiming{useful, useful, hedge, 1, 1, 2};
}

}  // namespace af::db
