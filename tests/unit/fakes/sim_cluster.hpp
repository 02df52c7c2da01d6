#pragma once

// A few SimNodes on one simulated clock and lease row: the daemon-level tests' world.
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "sim_node.hpp"

namespace af::fakes {

/// A node's configuration: one managed process "scheduler" (never started for real) and the
/// daemon's default lease timings, with `extra` merged over it.
inline config::Config sim_config(const std::string& node,
                                 const nlohmann::json& extra = nlohmann::json::object()) {
    nlohmann::json j = {{"cluster", "sim"},
                        {"node_id", node},
                        {"database", {{"conninfo", "host=nowhere dbname=none"}}},
                        {"processes", {{{"name", "scheduler"}, {"command", {"/bin/true"}}}}}};
    j.merge_patch(extra);
    return config::parse_config(j.dump());
}

struct SimCluster {
    SimClock clock;
    FakeDb db{clock};
    World world;
    SimNet net{clock};
    std::map<std::string, std::unique_ptr<SimNode>> nodes;

    SimNode& add(const std::string& id, const nlohmann::json& extra = nlohmann::json::object()) {
        auto& n = nodes[id];
        n = std::make_unique<SimNode>(clock, db, world, net, sim_config(id, extra));
        return *n;
    }
    SimNode& operator[](const std::string& id) { return *nodes.at(id); }

    /// The node that is active and runs its process, if exactly one does.
    SimNode* serving() {
        SimNode* found = nullptr;
        for (auto& [id, n] : nodes)
            if (n->daemon && n->active() && n->processes.alive("scheduler")) {
                if (found)
                    return nullptr;
                found = n.get();
            }
        return found;
    }
    bool run_until(const std::function<bool()>& done, Duration limit = Duration{20000}) {
        return clock.run_until(done, limit);
    }
};

}  // namespace af::fakes
