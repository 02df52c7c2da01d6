// What `status` shows of each node row: a dead holder's row must not read "active" next to the
// real active node (issue seen in the demo after a kill -9).
#include <gtest/gtest.h>

#include "af/db/cluster_view.hpp"

namespace {

af::db::NodeView row(const std::string& id, const std::string& role, std::int64_t age_ms) {
    af::db::NodeView n;
    n.node_id = id;
    n.role = role;
    n.last_seen_age_ms = age_ms;
    return n;
}

af::db::ClusterView view(std::optional<std::string> active) {
    af::db::ClusterView v;
    v.cluster = "c";
    v.active = std::move(active);
    return v;
}

}  // namespace

TEST(ClusterView, DeadHolderRowIsStaleSoOnlyOneReadsActive) {
    auto v = view("node-b");
    v.nodes = {row("node-a", "active", 9000), row("node-b", "active", 100),
               row("node-c", "standby", 200)};
    af::db::mark_stale(v, 3000);
    EXPECT_TRUE(v.nodes[0].stale);
    EXPECT_FALSE(v.nodes[1].stale);
    EXPECT_FALSE(v.nodes[2].stale);
    const auto j = v.to_json();
    int active_rows = 0;
    for (const auto& n : j["nodes"])
        active_rows += n["role"] == "active" ? 1 : 0;
    EXPECT_EQ(active_rows, 1);
    EXPECT_EQ(j["nodes"][0]["role"], "stale");
    EXPECT_EQ(j["nodes"][0]["last_role"], "active");
    EXPECT_EQ(j["nodes"][0]["stale"], true);
}

TEST(ClusterView, FreshRowClaimingActiveWithoutTheLeaseIsStale) {
    // Heard from a moment ago, but the lease says someone else (or nobody) holds it: the row is
    // left over from before the lease moved, not a second active node.
    auto v = view(std::nullopt);
    v.nodes = {row("node-a", "active", 500)};
    af::db::mark_stale(v, 3000);
    EXPECT_TRUE(v.nodes[0].stale);
}

TEST(ClusterView, SilentStandbyIsStaleAndKeepsItsLastRole) {
    auto v = view("node-a");
    v.nodes = {row("node-a", "active", 100), row("node-b", "standby", 3001)};
    af::db::mark_stale(v, 3000);
    EXPECT_FALSE(v.nodes[0].stale);
    EXPECT_TRUE(v.nodes[1].stale);
    EXPECT_EQ(v.to_json()["nodes"][1]["last_role"], "standby");
}

TEST(ClusterView, RowAtTheThresholdIsStillFresh) {
    auto v = view("node-a");
    v.nodes = {row("node-a", "active", 3000)};
    af::db::mark_stale(v, 3000);
    EXPECT_FALSE(v.nodes[0].stale);
}
