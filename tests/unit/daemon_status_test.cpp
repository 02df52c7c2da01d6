// The status view at the daemon level: the node row, the heartbeat, /metrics, /healthz and
// sd_notify's STATUS= all say the same role, term and health (tests/unit/fakes).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "af/daemon/status_outputs.hpp"
#include "fakes/sim_cluster.hpp"

namespace {

using af::Duration;
using af::fakes::SimCluster;
using af::fakes::SimNode;

std::string last_status(const SimNode& n) {
    for (auto it = n.notes.rbegin(); it != n.notes.rend(); ++it)
        if (auto p = it->find("STATUS="); p != std::string::npos)
            return it->substr(p + 7);
    return "";
}

TEST(DaemonStatus, EveryReaderSaysTheSameOfTheActiveAndTheStandby) {
    SimCluster c;
    c.add("n1").start();
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &c["n1"]; }));
    c.add("n2").start();
    c.clock.run_for(Duration{3000});
    const auto term = c.db.term;

    for (const char* id : {"n1", "n2"}) {
        SimNode& n = c[id];
        const auto& v = n.daemon->status();
        const bool active = std::string(id) == "n1";
        const std::string role = active ? "active" : "standby";
        const std::string words =
            active ? "active in term " + std::to_string(term) + ", running 1 of 1 process(es)"
                   : "standby; n1 is active in term " + std::to_string(term);
        EXPECT_EQ(v.words, words);
        EXPECT_EQ(last_status(n), words);
        EXPECT_EQ(n.store.last_row.role, role);
        EXPECT_EQ(n.store.last_row.state, active ? "running" : "idle");
        const auto m = af::daemon::metrics_snapshot(v, n.store.counters(), nullptr, c.clock.now());
        EXPECT_EQ(m.role, role);
        EXPECT_EQ(m.cluster_active_nodes, 1);
        EXPECT_TRUE(m.loop_healthy);
        const auto hz = af::daemon::healthz(v, c.clock.now(), true);
        EXPECT_EQ(hz.status, active ? 200 : 503);
        const auto body = nlohmann::json::parse(hz.body);
        EXPECT_EQ(body["role"], role);
        EXPECT_EQ(body["healthy"], true);
        EXPECT_EQ(body["status"], words);
        const auto hb = af::daemon::heartbeat_snapshot(v, n.store.counters(), c.clock.now());
        EXPECT_EQ(hb.role, active ? af::net::WireRole::active : af::net::WireRole::standby);
        EXPECT_EQ(hb.term, active ? term : 0);
        EXPECT_NE(hb.flags & af::net::Heartbeat::k_healthy, 0) << id << " is fit";
    }
}

TEST(DaemonStatus, ADownProcessMakesTheActiveUnfitButStillHealthy) {
    SimCluster c;
    c.add("n1", {{"supervision", {{"restart_backoff_initial_ms", 5000}}}}).start();
    ASSERT_TRUE(c.run_until([&] { return c.serving() != nullptr; }));
    SimNode& n1 = c["n1"];
    c.clock.run_for(Duration{1500});  // a loop check has passed
    n1.processes.crash("scheduler");
    c.clock.run_for(Duration{100});
    const auto& v = n1.daemon->status();
    EXPECT_EQ(v.role, af::core::Role::active);
    EXPECT_FALSE(v.fit);
    EXPECT_TRUE(v.healthy(c.clock.now()));
    const auto hb = af::daemon::heartbeat_snapshot(v, n1.store.counters(), c.clock.now());
    EXPECT_EQ(hb.flags & af::net::Heartbeat::k_healthy, 0);
    EXPECT_EQ(v.words,
              "active in term " + std::to_string(c.db.term) + ", running 0 of 1 process(es)");
}

TEST(DaemonStatus, AfterTheExitNothingIsHealthy) {
    SimCluster c;
    c.add("n1").start();
    ASSERT_TRUE(c.run_until([&] { return c.serving() != nullptr; }));
    SimNode& n1 = c["n1"];
    n1.daemon->stop_requested("SIGTERM");
    ASSERT_TRUE(c.run_until([&] { return n1.daemon->done(); }));
    EXPECT_FALSE(n1.daemon->status().healthy(c.clock.now()));
    EXPECT_EQ(af::daemon::healthz(n1.daemon->status(), c.clock.now(), false).status, 503);
}

}  // namespace
