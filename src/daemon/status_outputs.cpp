#include "af/daemon/status_outputs.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace af::daemon {

net::HeartbeatService::Snapshot heartbeat_snapshot(const StatusView& v,
                                                   const ports::StoreCounters& store,
                                                   TimePoint now) {
    net::HeartbeatService::Snapshot s;
    s.role = v.wire_role();
    s.term = v.term;
    if (v.db_connected)
        s.flags |= net::Heartbeat::k_db_ok;
    if (v.fit)
        s.flags |= net::Heartbeat::k_healthy;  // the wire's name for "fit"
    s.incarnation = static_cast<std::uint64_t>(std::max<std::int64_t>(0, store.incarnation));
    for (const auto& [node, n] : store.peer_incarnations)
        s.peer_incarnations[node] = static_cast<std::uint64_t>(std::max<std::int64_t>(0, n));
    s.lease_remaining_ms = static_cast<std::uint32_t>(v.lease_remaining(now).count());
    return s;
}

metrics::Snapshot metrics_snapshot(const StatusView& v, const ports::StoreCounters& store,
                                   const net::HeartbeatService* hb, TimePoint now) {
    metrics::Snapshot s;
    s.role = core::to_string(v.role);
    s.term = v.term;
    s.lease_remaining_s = std::chrono::duration<double>(v.lease_remaining(now)).count();
    s.cluster_active_nodes = v.someone_active() ? 1 : 0;
    s.cluster_paused = v.paused;
    s.db_connected = store.connected;
    s.db_statements = store.statements;
    s.events_dropped = store.events_dropped;
    s.loop_healthy = v.healthy(now);
    if (hb) {
        const auto c = hb->counts();
        s.heartbeat = metrics::Snapshot::Heartbeat{.sent = c.sent,
                                                   .received = c.received,
                                                   .send_errors = c.send_errors,
                                                   .dropped = c.dropped};
        for (const auto& [node, p] : hb->peers()) {
            if (p.heard && p.role == net::WireRole::active)
                s.cluster_active_nodes = 1;
            if (p.age)
                s.peer_age_s[node] = std::chrono::duration<double>(*p.age).count();
        }
    }
    return s;
}

metrics::HttpServer::Response healthz(const StatusView& v, TimePoint now, bool need_active) {
    const bool healthy = v.healthy(now);
    const nlohmann::json body = {{"healthy", healthy}, {"role", core::to_string(v.role)},
                                 {"term", v.term},     {"database_connected", v.db_connected},
                                 {"paused", v.paused}, {"status", v.words}};
    const bool ok = healthy && (!need_active || v.role == core::Role::active);
    return {ok ? 200 : 503, "application/json", body.dump() + "\n"};
}

namespace {

nlohmann::json to_json(const std::vector<ports::ProcessStatus>& procs) {
    auto arr = nlohmann::json::array();
    for (const auto& p : procs) {
        arr.push_back({{"name", p.name},
                       {"pid", p.pid > 0 ? nlohmann::json(p.pid) : nlohmann::json(nullptr)},
                       {"running", p.running},
                       {"restarts", p.restarts},
                       {"health", p.health ? nlohmann::json{{"type", p.health->type},
                                                            {"state", p.health->state},
                                                            {"last", p.health->last}}
                                           : nlohmann::json(nullptr)},
                       {"term", p.term}});
    }
    return arr;
}

nlohmann::json to_json(const std::vector<ports::WarmStatus>& warm) {
    auto arr = nlohmann::json::array();
    for (const auto& w : warm)
        arr.push_back(
            {{"name", w.name}, {"pid", w.pid}, {"ready", w.ready}, {"stopping", w.stopping}});
    return arr;
}

}  // namespace

ports::NodeRow node_row(const StatusView& v, const ports::ProcessControl& procs,
                        const ports::StoreCounters& store, const ports::Heartbeats* hb,
                        int priority) {
    ports::NodeRow r;
    r.role = core::to_string(v.role);
    r.term = v.term;
    r.processes_json = to_json(procs.describe()).dump();
    r.state = v.running > 0 ? "running" : "idle";
    r.priority = priority;
    nlohmann::json counters = {{"db_statements", store.statements},
                               {"events_dropped", store.events_dropped}};
    if (const auto warm = procs.describe_warm())
        counters["warm"] = to_json(*warm);  // warm copies are no running processes
    if (hb) {
        r.peers_json = hb->peers_view().dump();
        counters["heartbeat"] = hb->counters();
    }
    r.counters_json = counters.dump();
    return r;
}

}  // namespace af::daemon
