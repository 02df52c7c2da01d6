#pragma once

#include <string>

namespace af::db {

/// Which lease and rows a statement works on: the daemon's schema and the cluster inside it.
/// Every statement class of include/af/db (LeaseSql, StateSql, CommandSql, ClusterSql,
/// HistorySql, PauseSql, ScheduledSql, FencingSql) is built from one and holds it; a statement
/// for one node (the lease, the node row, commands) takes the node id next to it.
///
/// Classes rather than free functions taking (conn, scope, ...): the three per-node classes
/// already held schema and cluster (and LeaseSql builds its SQL once), so making the others
/// classes changed only the call sites of the cluster-wide statements, where free functions
/// would have changed every call of the per-node ones as well (and needed a node id at each).
struct Scope {
    std::string schema;
    std::string cluster;
};

}  // namespace af::db
