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

}  // namespace af::db
