#include "af/db/state_sql.hpp"

#include <pqxx/pqxx>

#include "af/db/connection.hpp"

namespace af::db {

StateSql::StateSql(Scope scope, std::string node_id)
    : scope_(std::move(scope)), node_id_(std::move(node_id)) {}

std::int64_t StateSql::register_node(pqxx::connection& c, const std::string& hostname,
                                     const std::string& version, int pid,
                                     const std::string& airflow_hostname,
                                     Duration stale_after) const {
    pqxx::nontransaction tx(c);
    const auto r = tx.exec_params(
        "INSERT INTO " + quoted(scope_.schema) +
            ".nodes AS n (cluster, node_id, role, state, hostname, version, pid, incarnation,"
            " airflow_hostname, stale_after_ms)"
            " VALUES ($1, $2, 'standby', 'starting', $3, $4, $5, 1, $6, $7)"
            " ON CONFLICT (cluster, node_id) DO UPDATE SET role = 'standby', state = 'starting',"
            " term = 0, processes = '[]', hostname = EXCLUDED.hostname,"
            " version = EXCLUDED.version, pid = EXCLUDED.pid, incarnation = n.incarnation + 1,"
            " airflow_hostname = EXCLUDED.airflow_hostname, stale_after_ms = "
            "EXCLUDED.stale_after_ms,"
            " started_at = clock_timestamp(), last_seen = clock_timestamp()"
            " RETURNING incarnation",
        scope_.cluster, node_id_, hostname, version, pid, airflow_hostname,
        static_cast<long long>(stale_after.count()));
    return r[0][0].as<std::int64_t>();
}

std::int64_t StateSql::highest_term(pqxx::connection& c) const {
    const std::string s = quoted(scope_.schema);
    pqxx::nontransaction tx(c);
    const auto r =
        tx.exec_params("SELECT greatest((SELECT coalesce(max(term), 0) FROM " + s +
                           ".lease WHERE cluster = $1),"
                           " (SELECT coalesce(max(term), 0) FROM " +
                           s + ".nodes WHERE cluster = $1), (SELECT coalesce(max(term), 0) FROM " +
                           s + ".events WHERE cluster = $1 AND kind = 'became_active'))",
                       scope_.cluster);
    return r[0][0].as<std::int64_t>();
}

std::map<std::string, std::int64_t> StateSql::peer_incarnations(pqxx::connection& c) const {
    pqxx::nontransaction tx(c);
    const auto r = tx.exec_params("SELECT node_id, incarnation FROM " + quoted(scope_.schema) +
                                      ".nodes WHERE cluster = $1 AND node_id <> $2",
                                  scope_.cluster, node_id_);
    std::map<std::string, std::int64_t> out;
    for (const auto& row : r)
        out[row[0].as<std::string>()] = row[1].as<std::int64_t>();
    return out;
}

void StateSql::publish(pqxx::connection& c, const NodeReport& r) const {
    pqxx::nontransaction tx(c);
    tx.exec_params("UPDATE " + quoted(scope_.schema) +
                       ".nodes SET role = $3, state = $4, term = $5, processes = $6::jsonb,"
                       " peers = $7::jsonb, counters = $8::jsonb, priority = $9,"
                       " last_seen = clock_timestamp() WHERE cluster = $1 AND node_id = $2",
                   scope_.cluster, node_id_, r.role, r.state, static_cast<long long>(r.term),
                   r.processes_json, r.peers_json, r.counters_json, r.priority);
}

void StateSql::record(pqxx::connection& c, const std::string& kind, const std::string& detail,
                      std::int64_t term) const {
    pqxx::nontransaction tx(c);
    tx.exec_params("INSERT INTO " + quoted(scope_.schema) +
                       ".events (cluster, node_id, term, kind, detail) VALUES ($1, $2, $3, $4, $5)",
                   scope_.cluster, node_id_, static_cast<long long>(term), kind, detail);
}

void StateSql::mark_down(pqxx::connection& c, const std::string& state) const {
    pqxx::nontransaction tx(c);
    tx.exec_params("UPDATE " + quoted(scope_.schema) +
                       ".nodes SET role = 'down', state = $3, processes = '[]'"
                       " WHERE cluster = $1 AND node_id = $2",
                   scope_.cluster, node_id_, state);
}

}  // namespace af::db
