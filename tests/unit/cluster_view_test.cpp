// What `status` shows of each node row: a row the schema calls stale (cluster_status, migration
// 8; its rule is tested against PostgreSQL in tests/integration/test_cluster_status.py) must not
// read "active" next to the real active node (issue seen in the demo after a kill -9).
#include <gtest/gtest.h>

#include "af/db/cluster_view.hpp"

namespace {

nlohmann::json row(const std::string& id, const std::string& role, bool stale) {
    return {{"node_id", id},       {"role", role},    {"state", "running"},
            {"term", 3},           {"processes", {}}, {"hostname", "h"},
            {"version", "v"},      {"priority", 100}, {"peers", nlohmann::json::object()},
            {"counters", nullptr}, {"stale", stale},  {"last_seen_age_ms", stale ? 9000 : 100},
            {"stale_why", nullptr}};
}

}  // namespace

TEST(ClusterView, StaleRowReadsStaleAndKeepsItsLastRole) {
    const auto v = af::db::from_status_json(
        {{"cluster", "c"},
         {"holder", "node-b"},
         {"active", "node-b"},
         {"term", 3},
         {"lease_remaining_ms", 900},
         {"nodes", {row("node-a", "active", true), row("node-b", "active", false)}}});
    ASSERT_EQ(v.nodes.size(), 2U);
    EXPECT_TRUE(v.nodes[0].stale);
    EXPECT_FALSE(v.nodes[1].stale);
    const auto j = v.to_json();
    int active_rows = 0;
    for (const auto& n : j["nodes"])
        active_rows += n["role"] == "active" ? 1 : 0;
    EXPECT_EQ(active_rows, 1);
    EXPECT_EQ(j["nodes"][0]["role"], "stale");
    EXPECT_EQ(j["nodes"][0]["last_role"], "active");
    EXPECT_EQ(j["nodes"][0]["stale"], true);
    EXPECT_EQ(j["active"], "node-b");
}

TEST(ClusterView, NoLiveLeaseReadsNoActive) {
    const auto v = af::db::from_status_json({{"cluster", "c"},
                                             {"holder", "node-a"},
                                             {"active", nullptr},
                                             {"term", 7},
                                             {"lease_remaining_ms", 0},
                                             {"nodes", nlohmann::json::array()}});
    EXPECT_FALSE(v.active);
    EXPECT_EQ(v.holder, "node-a");
    EXPECT_EQ(v.to_json()["active"], nullptr);
}
