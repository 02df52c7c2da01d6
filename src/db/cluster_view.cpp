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

void mark_stale(ClusterView& v, std::int64_t stale_after_ms) {
    for (auto& n : v.nodes) {
        const bool claims_active = n.role == "active";
        const bool is_holder = v.active && *v.active == n.node_id;
        n.stale = n.last_seen_age_ms > stale_after_ms || (claims_active && !is_holder);
    }
}

ClusterView read_cluster(pqxx::connection& c, const std::string& schema,
                         const std::string& cluster) {
    pqxx::read_transaction tx(c);
    ClusterView v;
    v.cluster = cluster;
    const auto lease = tx.exec_params(
        // A lease never taken expires at -infinity, which cannot be subtracted from.
        "SELECT holder, term, CASE WHEN isfinite(expires_at) THEN"
        " floor(extract(epoch FROM expires_at - clock_timestamp()) * 1000)::bigint END"
        " FROM " +
            quoted(schema) + ".lease WHERE cluster = $1",
        cluster);
    if (!lease.empty()) {
        if (!lease[0][0].is_null())
            v.holder = lease[0][0].as<std::string>();
        v.term = lease[0][1].as<std::int64_t>();
        v.lease_remaining_ms = lease[0][2].is_null() ? 0 : lease[0][2].as<std::int64_t>();
        if (v.holder && v.lease_remaining_ms > 0)
            v.active = v.holder;
        if (v.lease_remaining_ms < 0)
            v.lease_remaining_ms = 0;
    }
    const auto nodes = tx.exec_params(
        "SELECT node_id, role, state, term, processes::text, hostname, version,"
        " floor(extract(epoch FROM clock_timestamp() - last_seen) * 1000)::bigint,"
        " priority, peers::text, counters::text"
        " FROM " +
            quoted(schema) + ".nodes WHERE cluster = $1 ORDER BY node_id",
        cluster);
    for (const auto& row : nodes) {
        NodeView n;
        n.node_id = row[0].as<std::string>();
        n.role = row[1].as<std::string>();
        n.state = row[2].as<std::string>();
        n.term = row[3].as<std::int64_t>();
        n.processes = nlohmann::json::parse(row[4].as<std::string>());
        n.hostname = row[5].as<std::string>();
        n.version = row[6].as<std::string>();
        n.last_seen_age_ms = row[7].as<std::int64_t>();
        n.priority = row[8].as<int>();
        n.peers = nlohmann::json::parse(row[9].as<std::string>());
        n.counters = nlohmann::json::parse(row[10].as<std::string>());
        v.nodes.push_back(std::move(n));
    }
    return v;
}

}  // namespace af::db
