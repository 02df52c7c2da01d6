#include "af/db/cluster_view.hpp"

#include <pqxx/pqxx>

#include "af/db/connection.hpp"

namespace af::db {

nlohmann::json ClusterView::to_json() const {
    nlohmann::json j;
    j["cluster"] = cluster;
    j["active"] = active ? nlohmann::json(*active) : nlohmann::json(nullptr);
    j["term"] = term;
    j["lease_remaining_ms"] = lease_remaining_ms;
    j["nodes"] = nlohmann::json::array();
    for (const auto& n : nodes) {
        j["nodes"].push_back({{"node_id", n.node_id},
                              {"role", n.stale ? std::string("stale") : n.role},
                              {"last_role", n.role},
                              {"stale", n.stale},
                              {"state", n.state},
                              {"term", n.term},
                              {"processes", n.processes},
                              {"hostname", n.hostname},
                              {"version", n.version},
                              {"last_seen_age_ms", n.last_seen_age_ms},
                              {"priority", n.priority},
                              {"peers", n.peers},
                              {"counters", n.counters}});
    }
    return j;
}

ClusterView from_status_json(const nlohmann::json& j) {
    ClusterView v;
    v.cluster = j.at("cluster").get<std::string>();
    if (!j.at("holder").is_null())
        v.holder = j.at("holder").get<std::string>();
    if (!j.at("active").is_null())
        v.active = j.at("active").get<std::string>();
    v.term = j.at("term").get<std::int64_t>();
    v.lease_remaining_ms = j.at("lease_remaining_ms").get<std::int64_t>();
    for (const auto& r : j.at("nodes")) {
        NodeView n;
        n.node_id = r.at("node_id").get<std::string>();
        n.role = r.at("role").get<std::string>();
        n.state = r.at("state").get<std::string>();
        n.term = r.at("term").get<std::int64_t>();
        n.processes = r.at("processes");
        n.hostname = r.at("hostname").get<std::string>();
        n.version = r.at("version").get<std::string>();
        n.last_seen_age_ms = r.at("last_seen_age_ms").get<std::int64_t>();
        n.priority = r.at("priority").get<int>();
        n.peers = r.at("peers");
        n.counters = r.at("counters");
        n.stale = r.at("stale").get<bool>();
        v.nodes.push_back(std::move(n));
    }
    return v;
}

ClusterView ClusterSql::read(pqxx::connection& c) const {
    pqxx::nontransaction tx(c);
    const auto r = tx.exec_params("SELECT " + quoted(scope_.schema) + ".cluster_status($1)::text",
                                  scope_.cluster);
    return from_status_json(nlohmann::json::parse(r[0][0].as<std::string>()));
}

std::string ClusterSql::airflow_hostname(pqxx::connection& c, const std::string& node) const {
    pqxx::nontransaction tx(c);
    const auto r = tx.exec_params("SELECT airflow_hostname FROM " + quoted(scope_.schema) +
                                      ".nodes WHERE cluster = $1 AND node_id = $2",
                                  scope_.cluster, node);
    return r.empty() ? std::string() : r[0][0].as<std::string>();
}

std::optional<std::string> ClusterSql::remove_stale_node(pqxx::connection& c,
                                                         const std::string& node) const {
    // One statement in its own transaction, closed before the caller's next (its event row).
    const std::string s = quoted(scope_.schema);
    const auto r = pqxx::nontransaction(c).exec_params(
        "DELETE FROM " + s +
            ".nodes WHERE cluster = $1 AND node_id = $2 AND EXISTS ("
            "SELECT 1 FROM json_array_elements(" +
            s +
            ".cluster_status($1) -> 'nodes') e"
            " WHERE e ->> 'node_id' = $2 AND e ->> 'stale_why' = 'not heard from')"
            " RETURNING last_seen::text",
        scope_.cluster, node);
    if (r.empty())
        return std::nullopt;
    return r[0][0].as<std::string>();
}

std::size_t ClusterSql::prune_events(pqxx::connection& c, int days) const {
    pqxx::work tx(c);
    // The horizon the append-only rule lets through, for this transaction only.
    tx.exec_params(
        "SELECT set_config('airflow_failover.prune_before',"
        " (clock_timestamp() - $1 * interval '1 day')::text, true)",
        days);
    const auto r = tx.exec_params(
        "DELETE FROM " + quoted(scope_.schema) +
            ".events WHERE cluster = $1 AND at < clock_timestamp() - $2 * interval '1 day'",
        scope_.cluster, days);
    tx.commit();
    return static_cast<std::size_t>(r.affected_rows());
}

}  // namespace af::db
