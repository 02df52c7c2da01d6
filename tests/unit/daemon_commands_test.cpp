// Daemon-level tests of operator commands and SIGHUP, on simulated time (tests/unit/fakes).
#include <gtest/gtest.h>

#include <stdexcept>

#include "fakes/sim_cluster.hpp"

namespace {

using af::Duration;
using af::core::Role;
using af::fakes::SimCluster;
using af::fakes::SimNode;

void two_nodes(SimCluster& c) {
    c.add("n1").start();
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &c["n1"]; }));
    c.add("n2").start();
    c.clock.run_for(Duration{2000});
    ASSERT_EQ(c.serving(), &c["n1"]);
}

bool finished_with(const SimNode& n, std::int64_t id, const std::string& prefix) {
    for (const auto& [i, result] : n.commands.done)
        if (i == id && result.rfind(prefix, 0) == 0)
            return true;
    return false;
}

TEST(DaemonCommands, SwitchoverToANamedStandby) {
    SimCluster c;
    two_nodes(c);
    const auto id = c["n1"].commands.switchover("n2");
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &c["n2"]; }));
    EXPECT_TRUE(finished_with(c["n1"], id, "accepted"));
    EXPECT_EQ(c["n1"].role(), Role::standby);
    EXPECT_EQ(c["n1"].processes.proc("scheduler").kills, 0);
    EXPECT_TRUE(c.db.has_event("n1", "switchover"));
    EXPECT_EQ(c.world.overlaps, 0);
}

TEST(DaemonCommands, TerminateKillsTheSchedulerAndHandsOver) {
    SimCluster c;
    two_nodes(c);
    const auto id = c["n1"].commands.terminate("scheduler");
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &c["n2"]; }));
    EXPECT_TRUE(finished_with(c["n1"], id, "done: killed scheduler"));
    EXPECT_EQ(c["n1"].processes.proc("scheduler").kills, 1);
    EXPECT_TRUE(c.db.has_event("n1", "terminate_requested"));
    EXPECT_EQ(c.world.overlaps, 0);
}

TEST(DaemonCommands, ACommandWaitsForAnActiveNode) {
    SimCluster c;
    two_nodes(c);
    c["n2"].commands.switchover();  // sent to the standby: it does not look for commands
    c.clock.run_for(Duration{5000});
    EXPECT_TRUE(c["n2"].commands.done.empty());
    EXPECT_EQ(c.serving(), &c["n1"]);
}

TEST(DaemonReload, SafeChangesApplyAndTheRestIsKept) {
    SimCluster c;
    c.add("n1", {{"processes",
                  {{{"name", "scheduler"},
                    {"command", {"/bin/true"}},
                    {"health", {{"type", "airflow-db"}, {"failure_threshold", 3}}}}}}})
        .start();
    ASSERT_TRUE(c.run_until([&] { return c.serving() != nullptr; }));
    SimNode& n1 = c["n1"];
    const auto ttl = n1.daemon->config().lease.ttl;
    n1.notes.clear();
    n1.daemon->reload([&] {
        return af::fakes::sim_config(
            "n1", {{"lease", {{"ttl_ms", 6000}}},
                   {"processes",
                    {{{"name", "scheduler"},
                      {"command", {"/bin/true"}},
                      {"health", {{"type", "airflow-db"}, {"failure_threshold", 7}}}}}}});
    });
    EXPECT_EQ(n1.daemon->config().lease.ttl, ttl) << "the lease may not change under a term";
    EXPECT_EQ(n1.processes.health_limits_set, std::vector<std::string>{"scheduler"});
    EXPECT_EQ(n1.daemon->config().processes.at(0).health->failure_threshold, 7);
    ASSERT_FALSE(n1.notes.empty());
    EXPECT_EQ(n1.notes.front(), "RELOADING=1");
    EXPECT_TRUE(n1.noted("READY=1\nSTATUS=active in term"));
    c.clock.run_for(Duration{3000});
    EXPECT_EQ(c.serving(), &n1);
    EXPECT_EQ(n1.processes.proc("scheduler").starts, 1) << "a reload restarted the scheduler";
}

TEST(DaemonReload, ABrokenFileKeepsTheRunningConfig) {
    SimCluster c;
    c.add("n1").start();
    ASSERT_TRUE(c.run_until([&] { return c.serving() != nullptr; }));
    SimNode& n1 = c["n1"];
    const auto before = n1.daemon->config();
    n1.daemon->reload([]() -> af::config::Config {
        throw std::runtime_error("config.json: line 3: unexpected '}'");
    });
    EXPECT_TRUE(n1.daemon->config() == before);
    EXPECT_TRUE(n1.noted("READY=1"));
    c.clock.run_for(Duration{3000});
    EXPECT_EQ(c.serving(), &n1);
}

}  // namespace
