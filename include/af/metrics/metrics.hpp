#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "af/ports/optional_parts.hpp"
#include "af/util/boot_clock.hpp"

namespace af::metrics {

/// What the daemon knows at scrape time. Read on the event loop, so it needs no locking.
struct Snapshot {
    std::string role;             ///< standby, active, stopping, stopped
    std::int64_t term{0};         ///< the term held (0 unless active or stepping down)
    double lease_remaining_s{0};  ///< local conservative deadline minus now; 0 if none
    bool db_connected{false};
    std::uint64_t db_statements{0};
    std::uint64_t events_dropped{0};
    bool loop_healthy{false};
    struct Heartbeat {
        std::uint64_t sent{0};
        std::uint64_t received{0};
        std::uint64_t send_errors{0};
        std::map<std::string, std::uint64_t> dropped;  ///< by reason
    };
    std::optional<Heartbeat> heartbeat;
    std::map<std::string, double> peer_age_s;  ///< last heard, by peer (heartbeats on)
    /// Active nodes in the cluster as this node sees them: 1 if it is active, if its last lease
    /// read showed another holder whose lease has not yet run out, or if it hears an active
    /// peer; else 0. Every node exports it, so an alert on 0 fires from the standbys too.
    int cluster_active_nodes{0};
    /// Maintenance mode as this node last read it: nobody takes over while it is 1, so alert
    /// on it together with cluster_active_nodes == 0.
    bool cluster_paused{false};
};

/// The daemon's Prometheus metrics. Event-driven counts (renew latency, database errors,
/// events, process starts) live in a prometheus-cpp registry and are updated as they happen;
/// values owned elsewhere (role, term, heartbeat counters) are read from a Snapshot when
/// scraped. Every name starts with airflow_failover_.
class Metrics : public ports::Metrics {
  public:
    Metrics(const std::string& cluster, const std::string& node, const std::string& version);

    /// Renewal round trip: from the worker reading the clock before sending to the result
    /// reaching the loop.
    void observe_renew_latency(Duration d) override;
    /// A lease statement failed: op is acquire, renew or release.
    void database_error(const std::string& op) override;
    /// An event row (became_active, lease_lost, fenced, health_failed, ...).
    void event(const std::string& kind) override;
    /// This node won a term (from the acquire result). A term after another node's is a
    /// change of the active: a switchover if the previous term ended by an accepted
    /// switchover, else a failover. The cluster's first term, or one after this node's own,
    /// is neither.
    void term_won(const std::string& previous_holder, bool after_switchover) override;
    /// A managed process was started; `restart` when it already ran in the same term.
    void process_started(const std::string& name, bool restart) override;
    void health_check_failed(const std::string& name) override;
    /// A hook run ended: outcome ok, failed, timeout, not_started or dropped.
    void hook_run(const std::string& hook, const std::string& outcome) override;

    /// Prometheus text exposition format 0.0.4.
    std::string render(const Snapshot& s) const;

  private:
    prometheus::Registry registry_;
    prometheus::Family<prometheus::Counter>& db_errors_;
    prometheus::Family<prometheus::Counter>& events_;
    prometheus::Family<prometheus::Counter>& failovers_;
    prometheus::Family<prometheus::Counter>& switchovers_;
    prometheus::Family<prometheus::Counter>& starts_;
    prometheus::Family<prometheus::Counter>& restarts_;
    prometheus::Family<prometheus::Counter>& health_failures_;
    prometheus::Family<prometheus::Counter>& hook_runs_;
    prometheus::Histogram& renew_latency_;
    std::string cluster_;  ///< a label on every series
    std::string node_;
    std::map<std::string, std::string> info_;  ///< node and version, on the _info series
};

/// The content type of Metrics::render().
inline constexpr const char* k_text_format = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace af::metrics
