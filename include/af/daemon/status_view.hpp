#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "af/core/election.hpp"
#include "af/net/heartbeat_codec.hpp"
#include "af/util/boot_clock.hpp"

namespace af::daemon {

/// Another node that holds the lease, as this node last read it (acquire lost, or the pause row).
struct SeenActive {
    std::string node;
    std::int64_t term{0};
    TimePoint until{};  ///< when its lease runs out, on our clock, as last read
};

/// What this node is and how it does, computed once per step of the core. The node row, the
/// heartbeat, /metrics, /healthz, sd_notify's STATUS= and `status` all read it; none works
/// role or health out on its own.
struct StatusView {
    TimePoint at{};  ///< when it was computed
    core::Role role{core::Role::standby};
    std::int64_t term{0};
    TimePoint lease_deadline{};  ///< the local, conservative deadline (while term != 0)
    bool paused{false};
    bool db_connected{false};
    std::size_t running{0};     ///< managed processes running
    std::size_t configured{0};  ///< managed processes configured
    bool processes_down{false};
    std::optional<SeenActive> seen_active;  ///< as last read (its lease may have run out since)
    bool seen_active_current{false};        ///< ... and its lease had not run out at `at`
    /// Fit to take or keep the active role: an active node whose processes all run, or a
    /// standby that reaches the database. Peers read it from the heartbeat (failback, ranking).
    bool fit{false};
    /// Healthy (the one meaning of the word, used by /healthz, the systemd watchdog ping and
    /// airflow_failover_loop_healthy): the event loop ran on time and the core stepped, until
    /// this instant. Only the loop check moves it forward.
    TimePoint healthy_until{};
    std::string words;  ///< the status line, e.g. "standby; n2 is active in term 7"

    bool healthy(TimePoint now) const { return now < healthy_until; }
    net::WireRole wire_role() const;
    /// Lease time left at `now` while active, else zero.
    Duration lease_remaining(TimePoint now) const;
    /// Some node is active as far as this one knows (itself, or the lease it last read).
    bool someone_active() const { return role == core::Role::active || seen_active_current; }
};

/// The inputs beside the core that the view is computed from.
struct StatusInputs {
    bool db_connected{false};
    std::size_t running{0};
    std::size_t configured{0};
    bool processes_down{false};
    std::optional<SeenActive> seen_active;
    TimePoint healthy_until{};
};

StatusView compute_status(const core::Election& core, TimePoint now, StatusInputs in);

}  // namespace af::daemon
