#pragma once

#include <cstdint>
#include <pqxx/connection>
#include <string>

namespace af::db {

/// What a node publishes about itself in its row of the nodes table.
struct NodeReport {
    std::string role;
    std::string state;
    std::int64_t term{0};
    std::string processes_json{"[]"};  ///< [{"name":..,"pid":..,"state":..,"restarts":..}]
    std::string peers_json{"{}"};      ///< {"peer": {"heard":..,"age_ms":..,"role":..,"term":..}}
    std::string counters_json{"{}"};   ///< heartbeats sent/received/dropped, db statements
    int priority{100};
};

/// The node row and the events log: visibility only, never part of the election.
class StateSql {
  public:
    StateSql(std::string schema, std::string cluster, std::string node_id);

    /// Creates or refreshes this node's row at start-up; returns its new incarnation number.
    std::int64_t register_node(pqxx::connection& c, const std::string& hostname,
                               const std::string& version, int pid) const;
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
    std::string schema_;
    std::string cluster_;
    std::string node_id_;
};

}  // namespace af::db
