// Maintenance mode in the pure election core (ev::paused), on a fake clock. A small driver plays
// the database: it answers acquires and renewals as src/db/sql/lease_sql.cpp does for one node (no
// pause check: these tests show the core itself does not ask while paused).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "af/core/election.hpp"
#include "af/core/pause.hpp"
#include "one_node.hpp"

namespace {

using namespace af;
using namespace af::core;
using namespace std::chrono_literals;
using af::test::all;
using af::test::t;

ElectionConfig cfg() {
    ElectionConfig c;
    c.processes = {{"scheduler", 500ms}};
    return c;
}

bool recorded(const Ready& r, const std::string& kind) {
    for (const auto& rec : all<act::record>(r))
        if (rec.kind == kind)
            return true;
    return false;
}

ev::paused pause_on(bool stop = false) {
    ev::paused p;
    p.on = true;
    p.stop_processes = stop;
    p.by = "cli:ops@host";
    p.reason = "deploy";
    return p;
}

struct Node : af::test::OneNode {
    Node() : OneNode(cfg()) {}
};

TEST(Pause, StandbyNeverAsksForTheLeaseWhilePausedAndAsksAtOnceOnResume) {
    Node n;
    n.step(pause_on());
    Ready r = n.step(ev::tick{});
    EXPECT_TRUE(all<act::try_acquire>(r).empty());
    // A release announced by NOTIFY, and time passing well beyond the poll interval.
    n.now = 100;
    r = n.step(ev::lease_hint{});
    EXPECT_TRUE(all<act::try_acquire>(r).empty());
    r = n.run_for(10000);
    EXPECT_TRUE(all<act::try_acquire>(r).empty());
    EXPECT_EQ(n.core.role(), Role::standby);
    EXPECT_EQ(r.next_wakeup, TimePoint::max()) << "nothing to wake for while paused";
    // Resume: at once (no better-ranked standby heard).
    r = n.step(ev::paused{});
    EXPECT_EQ(all<act::try_acquire>(r).size(), 1u);
}

TEST(Pause, HolderKeepsRenewingAndACrashedProcessIsNotRestartedUntilResume) {
    Node n;
    n.become_active();
    n.run_for(1000);
    ASSERT_EQ(n.core.process_state("scheduler"), ProcState::running);
    n.step(pause_on());
    // The operator stops the scheduler by hand (or it crashes) during the pause.
    Ready r = n.step(ev::process_exited{"scheduler", "exited with status 0"});
    EXPECT_TRUE(recorded(r, "process_exited"));
    EXPECT_FALSE(recorded(r, "restart_scheduled"));
    r = n.run_for(30000);
    EXPECT_TRUE(all<act::start_process>(r).empty());
    EXPECT_FALSE(all<act::renew>(r).empty()) << "the holder keeps renewing";
    EXPECT_TRUE(all<act::release>(r).empty());
    EXPECT_EQ(n.core.role(), Role::active);
    EXPECT_EQ(n.core.term(), 1);
    r = n.step(ev::paused{});
    const auto starts = all<act::start_process>(r);
    ASSERT_EQ(starts.size(), 1u) << "resume starts it at once";
    EXPECT_EQ(starts[0].term, 1);
}

TEST(Pause, ManyExitsWhilePausedAreNoCrashLoop) {
    Node n;
    n.become_active();
    n.run_for(1000);
    n.step(pause_on());
    Ready r;
    for (int i = 0; i < 10; ++i) {
        // Started by hand by the operator? No: the core never starts it; the exit is only told.
        r = n.step(ev::process_exited{"scheduler", "exited with status 1"});
        EXPECT_FALSE(recorded(r, "crash_loop"));
        n.run_for(100);
    }
    EXPECT_EQ(n.core.role(), Role::active);
}

TEST(Pause, StopProcessesStopsThemAndResumeStartsThem) {
    Node n;
    n.become_active();
    n.run_for(1000);
    Ready r = n.step(pause_on(/*stop=*/true));
    ASSERT_EQ(all<act::stop_process>(r).size(), 1u);
    r = n.step(ev::process_exited{"scheduler", "exited with status 0"});
    EXPECT_TRUE(recorded(r, "process_stopped"));
    r = n.run_for(20000);
    EXPECT_TRUE(all<act::start_process>(r).empty());
    EXPECT_TRUE(all<act::release>(r).empty()) << "the lease is kept while the processes rest";
    EXPECT_EQ(n.core.role(), Role::active);
    r = n.step(ev::paused{});
    EXPECT_EQ(all<act::start_process>(r).size(), 1u);
}

TEST(Pause, HealthFailuresKillNothingWhilePaused) {
    Node n;
    n.become_active();
    n.run_for(1000);
    n.step(pause_on());
    Ready r = n.step(ev::process_unhealthy{"scheduler", "HTTP 500"});
    EXPECT_TRUE(all<act::kill_process>(r).empty());
    EXPECT_TRUE(recorded(r, "health_ignored"));
    EXPECT_EQ(n.core.process_state("scheduler"), ProcState::running);
    n.step(ev::paused{});
    r = n.step(ev::process_unhealthy{"scheduler", "HTTP 500"});
    EXPECT_EQ(all<act::kill_process>(r).size(), 1u);
}

TEST(Pause, SwitchoverAndTerminateAreRefusedWhilePaused) {
    Node n;
    n.become_active();
    n.run_for(1000);
    n.step(pause_on());
    Ready r = n.step(ev::switchover{std::nullopt, "cli:ops@host", 7});
    auto done = all<act::command_done>(r);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].result.rfind("refused: the cluster is paused", 0), 0u) << done[0].result;
    r = n.step(ev::process_terminate{"scheduler", "dashboard", 8});
    done = all<act::command_done>(r);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].result.rfind("refused: the cluster is paused", 0), 0u) << done[0].result;
    EXPECT_TRUE(all<act::kill_process>(r).empty());
    r = n.run_for(5000);
    EXPECT_TRUE(all<act::release>(r).empty());
    EXPECT_EQ(n.core.role(), Role::active);
}

TEST(Pause, TheLeaseDeadlineIsEnforcedWhilePaused) {
    Node n;
    n.become_active();
    n.now = 1000;
    n.step(ev::tick{});
    n.step(pause_on());
    // No renewal is answered any more: the kill comes at deadline - kill_grace as always.
    bool killed = false;
    for (; n.now < 4000 && !killed; n.now += 10)
        killed = !all<act::kill_process>(n.step(ev::tick{})).empty();
    EXPECT_TRUE(killed);
    EXPECT_LE(n.now, 3000 - 300 - 100 + 10);
}

TEST(Pause, AnExpiringPauseEndsByItselfOnTheLocalClock) {
    Node n;
    ev::paused p = pause_on();
    p.expires = true;
    p.remaining = Duration{5000};
    Ready r = n.step(p);
    EXPECT_TRUE(n.core.paused());
    EXPECT_EQ(r.next_wakeup, t(5000)) << "woken for the expiry";
    n.now = 4999;
    EXPECT_TRUE(all<act::try_acquire>(n.step(ev::tick{})).empty());
    n.now = 5000;
    r = n.step(ev::tick{});
    EXPECT_FALSE(n.core.paused());
    EXPECT_TRUE(recorded(r, "pause_expired"));
    EXPECT_EQ(all<act::try_acquire>(r).size(), 1u);
}

TEST(Pause, DescribedForTheStatusLine) {
    EXPECT_EQ(describe_pause(ev::paused{}), "not paused");
    EXPECT_EQ(describe_pause(pause_on(true)),
              "PAUSED by cli:ops@host (deploy), processes stopped, until resume");
}

}  // namespace
