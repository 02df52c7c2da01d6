#pragma once

#include "af/core/election_config.hpp"
#include "af/util/boot_clock.hpp"

namespace af::db {

/// Timeouts of the renewal connections, derived from the lease timings so a short TTL gets
/// short timeouts without more settings (docs/design.md, "Timings from ttl_ms").
struct RenewTiming {
    /// Server side (statement_timeout, lock_timeout) and client side (tcp_user_timeout): a
    /// renewal still unanswered when the deadline it could move has passed is worth nothing.
    Duration statement_timeout;
    Duration tcp_user_timeout;
    /// A second copy of an unanswered renewal goes out on another lane after this long: well
    /// before the core's own resend (renew_interval) and the statement timeout.
    Duration hedge_after;
    /// TCP keepalive on the renewal connections, in whole seconds (libpq's unit).
    int keepalive_idle_s;
    int keepalive_interval_s;
    int keepalive_count;
};

RenewTiming renew_timing(const core::LeaseTimings& lease);

/// The main connection's statement timeout: a statement that outlives the lease is moot.
constexpr Duration main_statement_timeout(const core::LeaseTimings& lease) {
    return lease.ttl;
}

}  // namespace af::db
