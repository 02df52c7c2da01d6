#pragma once

#include <cstdint>
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

}  // namespace af::db
