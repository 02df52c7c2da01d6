#pragma once

#include <string>
#include <vector>

#include "af/util/boot_clock.hpp"

namespace af::core {

/// What the election core needs to know about one managed process.
struct ProcessPolicy {
    std::string name;
    Duration stop_timeout{10000};
    /// Pre-started on a standby and sent go on promotion (act::warm_start, act::warm_go).
    bool warm{false};
    Duration warm_max_age{0};  ///< 0: never replaced for its age
};

/// Timings and limits of the election, already validated (see config/validate).
struct ElectionConfig {
    Duration ttl{3000};              ///< lease length on the database clock
    Duration renew_interval{500};    ///< how often the active renews
    Duration fence_margin{300};      ///< kept back from the TTL for clock-rate error and kill time
    Duration poll_interval{500};     ///< how often a standby tries the lease
    Duration kill_grace{100};        ///< SIGKILL is sent this long before the local deadline
    Duration release_timeout{1000};  ///< give up waiting for a release reply after this
    Duration restart_backoff_initial{500};
    Duration restart_backoff_max{10000};
    int crash_loop_limit{5};  ///< crashes within the window that trigger a hand-over
    Duration crash_loop_window{60000};
    Duration handover_cooldown{6000};  ///< after a crash-loop hand-over, let others go first
    std::vector<ProcessPolicy> processes;

    int priority{100};       ///< higher goes first when the lease is handed over
    bool heartbeats{false};  ///< peer heartbeats configured
    Duration heartbeat_interval{200};
    int miss_count{3};              ///< heartbeats missed before a peer counts as silent
    Duration slow_poll{2000};       ///< standby poll while the active is heard
    Duration rank_delay{100};       ///< per better-ranked standby, after a release
    bool failback{false};           ///< hand the lease to a returning higher-priority node
    bool nofailover{false};         ///< never try the lease (patronictl's "nofailover" tag)
    Duration failback_delay{5000};  ///< how long it must be heard healthy first

    // Promotion gates, between winning a term and starting the processes (docs/airflow.md).
    /// Close out the previous holder's Airflow jobs (airflow section): the core asks for it with
    /// act::take_over and waits for ev::takeover_result, at most takeover_timeout.
    bool takeover{false};
    Duration takeover_timeout{2000};
    /// hooks.pre_promote: act::run_pre_promote, then ev::hook_result; a non-zero exit or no
    /// answer within pre_promote_timeout vetoes the promotion (release, then handover_cooldown).
    bool pre_promote{false};
    Duration pre_promote_timeout{10000};
    /// hooks.on_role_change configured: the core emits act::role_change on promote and demote.
    bool role_change_hook{false};

    Duration miss_window() const { return heartbeat_interval * miss_count; }

    /// Once less than this is left on the local lease deadline and no renewal has succeeded, the
    /// processes are asked to stop gracefully, so that they are dead before the deadline.
    Duration fence_lead() const;
};

}  // namespace af::core
