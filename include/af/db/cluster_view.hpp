#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/connection>
#include <string>
#include <utility>
#include <vector>

#include "af/db/scope.hpp"

namespace af::db {

struct NodeView {
    std::string node_id;
    std::string role;
    std::string state;
    std::int64_t term{0};
    nlohmann::json processes;
    std::string hostname;
    std::string version;
    std::int64_t last_seen_age_ms{0};
    int priority{100};
    nlohmann::json peers;     ///< what this node hears of the others
    nlohmann::json counters;  ///< heartbeats sent/received/dropped, statements
    /// The schema's rule (cluster_status, migration 8): the row stopped changing (dead or cut-off
    /// daemon), or it reads active without the live lease, so `role` is only what it last wrote
    /// and is shown as `last_role`.
    bool stale{false};
};

/// The whole cluster as `status` and the dashboard show it, read in one snapshot.
struct ClusterView {
    std::string cluster;
    std::optional<std::string> active;  ///< holder of an unexpired lease
    std::optional<std::string> holder;  ///< holder column, even if expired
    std::int64_t term{0};
    std::int64_t lease_remaining_ms{0};
    std::vector<NodeView> nodes;

    nlohmann::json to_json() const;
};

/// The cluster as the schema's cluster_status() judges it (one database clock reading; the
/// stale rule is the schema's).
ClusterView from_status_json(const nlohmann::json& j);

class ClusterSql {
  public:
    explicit ClusterSql(Scope scope) : scope_(std::move(scope)) {}
    ClusterView read(pqxx::connection& c) const;
    /// The host name Airflow records for `node`'s jobs, as that node registered it ("" if none).
    std::string airflow_hostname(pqxx::connection& c, const std::string& node) const;
    /// Deletes `node`'s row only if the schema's stale rule (cluster_status) calls it "not heard
    /// from", judged in the statement on the database clock: a daemon that wrote its row since
    /// the caller last looked keeps it. Returns the row's last_seen, or nothing if it was kept.
    std::optional<std::string> remove_stale_node(pqxx::connection& c,
                                                 const std::string& node) const;
    /// Deletes the cluster's events older than `days` days through the append-only rule's one
    /// exception (the horizon set for this transaction); needs the events table's owner.
    std::size_t prune_events(pqxx::connection& c, int days) const;

  private:
    Scope scope_;
};

}  // namespace af::db
