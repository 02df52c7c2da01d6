// Daemon-level tests with the optional parts on (tests/unit/fakes/fake_parts.hpp): heartbeats,
// hooks and the Airflow takeover, each with the fault it must survive, on simulated time.
#include <gtest/gtest.h>

#include "fakes/sim_cluster.hpp"

namespace {

using af::Duration;
using af::TimePoint;
using json = nlohmann::json;
using Cluster = af::fakes::SimCluster;
using Node = af::fakes::SimNode;

/// Heartbeats between n1 and n2 (the addresses are never used: the network is SimNet).
json with_heartbeats(const std::string& peer) {
    return {{"heartbeat",
             {{"listen", "127.0.0.1:8711"},
              {"peers", {{peer, "127.0.0.1:8712"}}},
              {"insecure", true}}}};
}

/// An Airflow scheduler: the takeover step is on (2000 ms, the default).
json airflow_scheduler() {
    return {{"processes", {{{"name", "scheduler"}, {"command", {"airflow", "scheduler"}}}}}};
}

/// n1 active and serving, n2 a standby that has seen it.
void two_nodes(Cluster& c, const json& n1 = json::object(), const json& n2 = json::object()) {
    c.add("n1", n1).start();
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &c["n1"]; }));
    c.add("n2", n2).start();
    c.clock.run_for(Duration{3000});
    ASSERT_EQ(c["n2"].role(), af::core::Role::standby);
    ASSERT_EQ(c.serving(), &c["n1"]);
}

TEST(DaemonParts, WithHeartbeatsAReleaseIsAnnouncedAndTheStandbyTakesOverAtOnce) {
    Cluster c;
    two_nodes(c, with_heartbeats("n2"), with_heartbeats("n1"));
    Node& n1 = c["n1"];
    Node& n2 = c["n2"];
    ASSERT_GT(n2.heartbeats->received, 0) << "the standby heard nothing";
    ASSERT_GT(n1.heartbeats->received, 0);
    // Hearing the active, the standby polls only every slow_poll (2000 ms).
    const Duration slow_poll = n2.daemon->config().heartbeat->slow_poll;
    n1.daemon->stop_requested("SIGTERM");
    ASSERT_TRUE(c.run_until([&] { return c.db.holder.empty(); }));
    const TimePoint released = c.clock.now();
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &n2; }));
    EXPECT_EQ(n1.heartbeats->sent_now, 1) << "the release was not announced";
    // Announced, the release is taken within a few round trips, not at the next slow poll.
    EXPECT_LT(c.clock.now() - released, slow_poll / 10);
    EXPECT_TRUE(n1.heartbeats->stopped);
    EXPECT_EQ(c.world.overlaps, 0);
}

TEST(DaemonParts, WithHeartbeatsAKilledActiveIsReplacedOnceItsGuardReleased) {
    Cluster c;
    two_nodes(c, with_heartbeats("n2"), with_heartbeats("n1"));
    const std::int64_t term = c.db.term;
    c["n1"].kill_daemon(c.db);  // silent from now on; its guard released the lease
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &c["n2"]; }));
    EXPECT_GT(c.db.term, term);
    EXPECT_EQ(c.world.overlaps, 0);
}

TEST(DaemonParts, APrePromoteHookThatNeverAnswersIsAVetoAtItsTimeout) {
    Cluster c;
    const json hook = {
        {"hooks", {{"pre_promote", {{"command", {"/bin/may-promote"}}, {"timeout_ms", 800}}}}}};
    c.add("n1", hook);
    c["n1"].pre_promote->hang_forever = true;  // not even the runner's kill answers
    c["n1"].start();
    ASSERT_TRUE(c.run_until([&] { return c.db.won_terms.size() == 1; }));
    const TimePoint won = c.clock.now();
    // The daemon acts on its own deadline: it gives the lease back, the process never starts.
    ASSERT_TRUE(c.run_until([&] { return c.db.holder.empty(); }, Duration{5000}))
        << "the node holds the lease without serving while the hook hangs";
    EXPECT_LE(c.clock.now() - won, Duration{800 + 100});
    EXPECT_EQ(c["n1"].processes.proc("scheduler").starts, 0);
    EXPECT_TRUE(c.db.has_event("n1", "promotion_vetoed"));
    EXPECT_EQ(c["n1"].pre_promote->calls.size(), 1u);
    EXPECT_EQ(c["n1"].pre_promote->calls[0].set.at("AIRFLOW_FAILOVER_HOOK"), "pre_promote");
}

TEST(DaemonParts, ARoleChangeHookThatHangsDoesNotDelayTheFencing) {
    Cluster c;
    const json hook = {
        {"hooks", {{"on_role_change", {{"command", {"/bin/tell"}}, {"timeout_ms", 60000}}}}}};
    c.add("n1", hook);
    c["n1"].on_role_change->hang = true;
    c["n1"].start();
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &c["n1"]; }));
    c.add("n2").start();
    c.clock.run_for(Duration{2000});
    Node& n1 = c["n1"];
    ASSERT_TRUE(n1.on_role_change->running()) << "the promote's hook should still hang";
    n1.store.mode = af::fakes::FakeLeaseStore::Mode::hang;
    ASSERT_TRUE(c.run_until([&] { return !n1.processes.alive("scheduler"); }));
    EXPECT_LE(c.clock.now(), c.db.expires) << "fenced after the lease ran out on the database";
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &c["n2"]; }));
    EXPECT_EQ(c.world.overlaps, 0);
    // The promote's run ends at its timeout, as a timeout.
    ASSERT_TRUE(c.run_until([&] { return n1.metrics.hook_runs["on_role_change timeout"] > 0; },
                            Duration{70000}));
}

TEST(DaemonParts, ATakeoverThatNeverAnswersHandsTheTermOverWithoutStarting) {
    Cluster c;
    two_nodes(c, airflow_scheduler(), airflow_scheduler());
    Node& n2 = c["n2"];
    n2.takeover->hang = true;
    n2.takeover->ignore_cancel = true;  // the Airflow database is gone: no answer at all
    c["n1"].kill_daemon(c.db);
    ASSERT_TRUE(c.run_until([&] { return !n2.takeover->asked.empty(); }));
    const std::int64_t term = n2.takeover->asked[0].term;
    EXPECT_EQ(n2.takeover->asked[0].previous, "n1");
    const TimePoint asked = c.clock.now();
    // Cancelled at the timeout, then handed over after another: the statement may still
    // commit, so the scheduler must not start in this term.
    ASSERT_TRUE(c.run_until([&] { return c.db.term == term && c.db.holder.empty(); }));
    EXPECT_EQ(n2.takeover->cancelled, std::vector<std::int64_t>{term});
    EXPECT_LE(c.clock.now() - asked, Duration{2 * 2000 + 100});
    EXPECT_EQ(n2.processes.proc("scheduler").starts, 0);
    EXPECT_TRUE(c.db.has_event("n2", "takeover_failed"));
    EXPECT_EQ(c.world.overlaps, 0);
}

TEST(DaemonParts, ATakeoverCancelledAtItsTimeoutStartsTheSchedulerAfterTheAnswer) {
    Cluster c;
    two_nodes(c, airflow_scheduler(), airflow_scheduler());
    Node& n2 = c["n2"];
    n2.takeover->hang = true;  // the statement hangs; its cancellation is answered
    c["n1"].kill_daemon(c.db);
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &n2; }));
    EXPECT_EQ(n2.takeover->cancelled.size(), 1u);
    EXPECT_TRUE(c.db.has_event("n2", "takeover_failed"));
    EXPECT_EQ(n2.metrics.events["takeover_failed"], 1);
    EXPECT_EQ(c.world.overlaps, 0);
}

}  // namespace
