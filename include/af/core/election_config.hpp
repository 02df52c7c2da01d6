#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "af/util/boot_clock.hpp"

namespace af::core {

// The configuration's sections that the core takes as they are. Their defaults are stated here
// and only here: config::Config holds the same structs (config.hpp), and Config::election()
// copies them whole.

/// The rule for the intervals a config leaves unset (docs/design.md, "Timings from ttl_ms"):
/// six renewals per TTL, a tenth of it (at least 100 ms) as fence margin, and the standby polls
/// as often as the active renews.
constexpr Duration renew_interval_for(Duration ttl) {
    return std::max(Duration{50}, ttl / 6);
}
constexpr Duration fence_margin_for(Duration ttl) {
    return std::max(Duration{100}, ttl / 10);
}

/// The default TTL: the shortest with a host-loss failover under 1.5 s and no false failover or
/// restart under 5 % loss and 100 ms jitter (docs/chaos.md, "TTL sweep").
inline constexpr Duration k_default_ttl{1300};

/// The lease timings (config "lease"). Unset intervals follow ttl_ms in the config parser
/// (lease_timings_for); the defaults are that rule's values at the default TTL.
struct LeaseTimings {
    Duration ttl{k_default_ttl};  ///< lease length on the database clock
    /// How often the active renews.
    Duration renew_interval{renew_interval_for(k_default_ttl)};
    /// Kept back from the TTL for clock-rate error and kill time.
    Duration fence_margin{fence_margin_for(k_default_ttl)};
    /// How often a standby tries the lease.
    Duration poll_interval{renew_interval_for(k_default_ttl)};
    bool operator==(const LeaseTimings&) const = default;
};

constexpr LeaseTimings lease_timings_for(Duration ttl) {
    return LeaseTimings{ttl, renew_interval_for(ttl), fence_margin_for(ttl),
                        renew_interval_for(ttl)};
}

/// After a hand-over a node lets the others go first for two TTLs (config
/// supervision.handover_cooldown_ms unset).
constexpr Duration handover_cooldown_for(Duration ttl) {
    return 2 * ttl;
}

/// Restarts in place and crash-loop hand-over (config "supervision").
struct SupervisionPolicy {
    Duration restart_backoff_initial{500};
    Duration restart_backoff_max{10000};
    int crash_loop_limit{5};  ///< crashes within the window that trigger a hand-over
    Duration crash_loop_window{60000};
    /// After a hand-over, let others go first.
    Duration handover_cooldown{handover_cooldown_for(k_default_ttl)};
    bool operator==(const SupervisionPolicy&) const = default;
};

/// Who competes for the lease and who goes first (the config's top-level keys).
struct Candidacy {
    int priority{100};       ///< 0-255; higher goes first when the lease is handed over
    bool failback{false};    ///< hand the lease to a returning higher-priority node
    bool nofailover{false};  ///< never try the lease (patronictl's "nofailover" tag)
    bool operator==(const Candidacy&) const = default;
};

/// Peer heartbeat timings (config "heartbeat").
struct HeartbeatTimings {
    Duration interval{200};
    int miss_count{3};         ///< heartbeats missed before a peer counts as silent
    Duration slow_poll{2000};  ///< standby poll while the active is heard
    bool operator==(const HeartbeatTimings&) const = default;
};

/// What the election core needs to know about one managed process.
struct ProcessPolicy {
    std::string name;
    Duration stop_timeout{10000};
    /// Pre-started on a standby and sent go on promotion (act::warm_start, act::warm_go).
    bool warm{false};
    Duration warm_max_age{0};  ///< 0: never replaced for its age
};

/// Timings and limits of the election, already validated (config::Config::election()).
struct ElectionConfig : LeaseTimings, SupervisionPolicy, Candidacy {
    // The core's own constants: no config key sets them.
    Duration kill_grace{100};        ///< SIGKILL is sent this long before the local deadline
    Duration release_timeout{1000};  ///< give up waiting for a release reply after this
    Duration rank_delay{100};        ///< per better-ranked standby, after a release
    Duration failback_delay{5000};   ///< how long a failback target must be heard healthy first
    /// A peer's heartbeat term is a hint: it raises the floor of the next acquire only when it is
    /// at most this far above the highest term this node read from the database. Real terms
    /// move by one per acquire; one forged datagram must not push the lease to INT64_MAX.
    std::int64_t peer_term_bound{1000};

    std::vector<ProcessPolicy> processes;
    /// Peer heartbeats configured (absent: the core hears no peers).
    std::optional<HeartbeatTimings> heartbeat;

    // Promotion gates, between winning a term and starting the processes (docs/airflow.md).
    /// Close out the previous holder's Airflow jobs (airflow section): the core asks for it with
    /// act::take_over and waits for ev::takeover_result at most this long. Absent: no takeover.
    std::optional<Duration> takeover;
    /// hooks.pre_promote: act::run_pre_promote, then ev::hook_result; a non-zero exit or no
    /// answer within this time vetoes the promotion (release, then handover_cooldown). Absent:
    /// no hook.
    std::optional<Duration> pre_promote;
    /// hooks.on_role_change configured: the core emits act::role_change on promote and demote.
    bool role_change_hook{false};

    bool heartbeats() const { return heartbeat.has_value(); }
    /// Silence after which a peer counts as gone; meaningful only with heartbeats.
    Duration miss_window() const {
        return heartbeat ? heartbeat->interval * heartbeat->miss_count : Duration{0};
    }

    /// Once less than this is left on the local lease deadline and no renewal has succeeded, the
    /// processes are frozen (SIGSTOP) until a renewal arrives (thaw) or the deadline (kill).
    Duration fence_lead() const;
};

}  // namespace af::core
