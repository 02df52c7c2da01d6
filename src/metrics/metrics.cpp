#include "af/metrics/metrics.hpp"

#include <prometheus/gauge.h>
#include <prometheus/text_serializer.h>

#include <chrono>
#include <sstream>
#include <vector>

#include "af/core/event_kind.hpp"

namespace af::metrics {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

ClientMetric sample(double v, MetricType t, std::vector<ClientMetric::Label> labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    if (t == MetricType::Counter)
        m.counter.value = v;
    else
        m.gauge.value = v;
    return m;
}

MetricFamily family(std::string name, std::string help, MetricType t) {
    MetricFamily f;
    f.name = std::move(name);
    f.help = std::move(help);
    f.type = t;
    return f;
}

MetricFamily one(std::string name, std::string help, MetricType t, double v) {
    MetricFamily f = family(std::move(name), std::move(help), t);
    f.metric.push_back(sample(v, t));
    return f;
}

}  // namespace

Metrics::Metrics(const std::string& cluster, const std::string& node, const std::string& version)
    : db_errors_(prometheus::BuildCounter()
                     .Name("airflow_failover_database_errors_total")
                     .Help("Lease statements that failed (connection lost, timeout, server "
                           "error), by operation")
                     .Register(registry_)),
      events_(prometheus::BuildCounter()
                  .Name("airflow_failover_events_total")
                  .Help("Event rows this node recorded, by kind (became_active, lease_lost, "
                        "fenced, crash_loop, ...)")
                  .Register(registry_)),
      failovers_(prometheus::BuildCounter()
                     .Name("airflow_failover_failovers_total")
                     .Help("Changes of the active node other than switchovers (the active "
                           "died, hung, lost the database, crash-looped, stopped, failed back), "
                           "counted by the node that won the new term")
                     .Register(registry_)),
      switchovers_(prometheus::BuildCounter()
                       .Name("airflow_failover_switchovers_total")
                       .Help("Terms this node won after the previous active accepted an "
                             "operator's switchover")
                       .Register(registry_)),
      starts_(prometheus::BuildCounter()
                  .Name("airflow_failover_process_starts_total")
                  .Help("Managed process starts, by process")
                  .Register(registry_)),
      restarts_(prometheus::BuildCounter()
                    .Name("airflow_failover_process_restarts_total")
                    .Help("Managed process restarts in place (a start in a term it already "
                          "ran in), by process")
                    .Register(registry_)),
      health_failures_(prometheus::BuildCounter()
                           .Name("airflow_failover_health_check_failures_total")
                           .Help("Times a process failed its health check failure_threshold "
                                 "times in a row and was killed, by process")
                           .Register(registry_)),
      hook_runs_(prometheus::BuildCounter()
                     .Name("airflow_failover_hook_runs_total")
                     .Help("Runs of hooks.on_role_change and hooks.pre_promote, by hook and "
                           "outcome (ok, failed, timeout, not_started, dropped)")
                     .Register(registry_)),
      renew_latency_(
          prometheus::BuildHistogram()
              .Name("airflow_failover_renew_latency_seconds")
              .Help("Lease renewal round trip, from sending the statement to its "
                    "result reaching the event loop")
              .Register(registry_)
              .Add({},
                   prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                           0.1, 0.25, 0.5, 1.0, 2.5, 5.0})),
      cluster_(cluster),
      node_(node),
      info_{{"node", node}, {"version", version}} {
    // Known label values start at zero, so rate() and increase() work from the first scrape.
    for (const char* op : {"acquire", "renew", "release"})
        db_errors_.Add({{"op", op}});
    failovers_.Add({});
    switchovers_.Add({});
    // increase() misses a series' first sample: an alert on a rare kind (processes_frozen)
    // would never fire if the series were born at 1.
    for (const auto& k : core::k_event_kinds)
        events_.Add({{"kind", std::string(k.name)}});
    for (const char* hook : {"on_role_change", "pre_promote"})
        for (const char* outcome : {"ok", "failed", "timeout", "not_started", "dropped"})
            hook_runs_.Add({{"hook", hook}, {"outcome", outcome}});
}

void Metrics::observe_renew_latency(Duration d) {
    renew_latency_.Observe(std::chrono::duration<double>(d).count());
}

void Metrics::database_error(const std::string& op) {
    db_errors_.Add({{"op", op}}).Increment();
}

void Metrics::event(const std::string& kind) {
    events_.Add({{"kind", kind}}).Increment();
}

void Metrics::term_won(const std::string& previous_holder, bool after_switchover) {
    // Counted by the winner, so each change of the active counts once in the cluster, also
    // when the previous active cannot count anything (killed, host gone).
    if (previous_holder.empty() || previous_holder == node_)
        return;
    (after_switchover ? switchovers_ : failovers_).Add({}).Increment();
}

void Metrics::process_started(const std::string& name, bool restart) {
    starts_.Add({{"process", name}}).Increment();
    health_failures_.Add({{"process", name}});
    auto& r = restarts_.Add({{"process", name}});
    if (restart)
        r.Increment();
}

void Metrics::health_check_failed(const std::string& name) {
    health_failures_.Add({{"process", name}}).Increment();
}

void Metrics::hook_run(const std::string& hook, const std::string& outcome) {
    hook_runs_.Add({{"hook", hook}, {"outcome", outcome}}).Increment();
}

std::string Metrics::render(const Snapshot& s) const {
    std::vector<MetricFamily> out = registry_.Collect();
    const auto G = MetricType::Gauge;
    const auto C = MetricType::Counter;

    MetricFamily info =
        family("airflow_failover_info",
               "Constant 1, labelled with this daemon's cluster, node and version", G);
    std::vector<ClientMetric::Label> labels;
    for (const auto& [k, v] : info_)
        labels.push_back({k, v});
    info.metric.push_back(sample(1, G, labels));
    out.push_back(std::move(info));

    MetricFamily role =
        family("airflow_failover_role", "1 for the role this node is in now, 0 for the others", G);
    for (const char* r : {"standby", "active", "stopping", "stopped", "nofailover"})
        role.metric.push_back(sample(s.role == r ? 1 : 0, G, {{"role", r}}));
    out.push_back(std::move(role));
    out.push_back(one("airflow_failover_active",
                      "1 while this node holds the lease and runs the "
                      "scheduler, else 0",
                      G, s.role == "active" ? 1 : 0));
    out.push_back(one("airflow_failover_cluster_active_nodes",
                      "Active nodes in the cluster as this node sees the lease and its peers "
                      "(1 or 0); every node exports it: alert when it is 0",
                      G, s.cluster_active_nodes));
    out.push_back(one("airflow_failover_cluster_paused",
                      "1 while the cluster is in maintenance mode (pause): no failover, no "
                      "restarts; with cluster_active_nodes 0 nobody runs the scheduler",
                      G, s.cluster_paused ? 1 : 0));
    out.push_back(one("airflow_failover_term",
                      "The term (fencing token) this node holds, 0 if none", G,
                      static_cast<double>(s.term)));
    out.push_back(one("airflow_failover_lease_remaining_seconds",
                      "Time left until this node's conservative local lease deadline (boot "
                      "clock), 0 when it holds no lease",
                      G, s.lease_remaining_s));
    out.push_back(one("airflow_failover_database_connected",
                      "1 while the database worker has a connection", G, s.db_connected ? 1 : 0));
    out.push_back(one("airflow_failover_database_statements_total",
                      "Statements the database worker sent", C,
                      static_cast<double>(s.db_statements)));
    out.push_back(one("airflow_failover_events_dropped_total",
                      "Event rows dropped because the database was away too long", C,
                      static_cast<double>(s.events_dropped)));
    out.push_back(one("airflow_failover_loop_healthy",
                      "1 while the event loop turns on time and the election core is stepped "
                      "(what /healthz and the systemd watchdog report)",
                      G, s.loop_healthy ? 1 : 0));
    if (s.heartbeat) {
        const auto& h = *s.heartbeat;
        out.push_back(one("airflow_failover_heartbeats_sent_total",
                          "Heartbeat datagrams sent (one per peer per interval)", C,
                          static_cast<double>(h.sent)));
        out.push_back(one("airflow_failover_heartbeats_received_total",
                          "Heartbeat datagrams accepted (authentic, fresh, from a known peer)", C,
                          static_cast<double>(h.received)));
        out.push_back(one("airflow_failover_heartbeat_send_errors_total",
                          "Heartbeat datagrams the kernel refused to send", C,
                          static_cast<double>(h.send_errors)));
        MetricFamily d = family("airflow_failover_heartbeats_dropped_total",
                                "Heartbeat datagrams dropped, by reason", C);
        for (const auto& [reason, n] : h.dropped)
            d.metric.push_back(sample(static_cast<double>(n), C, {{"reason", reason}}));
        out.push_back(std::move(d));
        MetricFamily age = family("airflow_failover_peer_last_heard_seconds",
                                  "Seconds since a peer's last accepted heartbeat (absent: never "
                                  "heard)",
                                  G);
        for (const auto& [peer, a] : s.peer_age_s)
            age.metric.push_back(sample(a, G, {{"peer", peer}}));
        out.push_back(std::move(age));
    }
    // Every series carries the cluster, so rules can group by it when clusters share a
    // Prometheus (the scrape config need not add it, nor keep it right).
    for (auto& f : out)
        for (auto& m : f.metric)
            m.label.insert(m.label.begin(), ClientMetric::Label{"cluster", cluster_});
    std::ostringstream text;
    prometheus::TextSerializer().Serialize(text, out);
    return text.str();
}

}  // namespace af::metrics
