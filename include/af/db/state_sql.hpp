#pragma once

#include <cstdint>
#include <map>
#include <pqxx/connection>
#include <string>

#include "af/db/node_report.hpp"
#include "af/db/scope.hpp"
#include "af/util/boot_clock.hpp"

namespace af::db {

/// The node row and the events log: visibility only, never part of the election.
class StateSql {
  public:
    StateSql(Scope scope, std::string node_id);

    /// Creates or refreshes this node's row at start-up; returns its new incarnation number.
    /// `stale_after`: past this age the row is stale (the schema's cluster_status).
    std::int64_t register_node(pqxx::connection& c, const std::string& hostname,
                               const std::string& version, int pid,
                               const std::string& airflow_hostname, Duration stale_after) const;
    /// The other nodes' incarnations: heartbeats from a lower one are replays.
    std::map<std::string, std::int64_t> peer_incarnations(pqxx::connection& c) const;
    void publish(pqxx::connection& c, const NodeReport& r) const;
    /// The highest term the database remembers for this cluster (the lease row, node rows and
    /// won terms in the events log): the floor of this node's next term.
    std::int64_t highest_term(pqxx::connection& c) const;
    void record(pqxx::connection& c, const std::string& kind, const std::string& detail,
                std::int64_t term) const;
    /// The daemon is gone (said by its guard): the row stops claiming a role and processes.
    /// last_seen is left alone, so the row still reads as not heard from.
    void mark_down(pqxx::connection& c, const std::string& state) const;

  private:
    Scope scope_;
    std::string node_id_;
};

}  // namespace af::db
