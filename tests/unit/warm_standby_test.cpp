// Unit tests for the warm standby in the election core (docs/warm-standby.md): a process that
// opted in is pre-started on a standby, never counts as running, gets go instead of a start on
// promotion, and is replaced after its max age or when the shell reports it stale. One Election
// driven by hand on a fake clock; the shell and the database are the test.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "af/core/election.hpp"
#include "ready_actions.hpp"

namespace {

using namespace af;
using namespace af::core;
using af::test::all;
using af::test::has_record;

TimePoint at(long long ms) {
    return TimePoint{} + std::chrono::milliseconds(ms);
}

ElectionConfig warm_cfg(long long max_age_ms = 60000) {
    ElectionConfig c;
    ProcessPolicy p{"scheduler", Duration{500}};
    p.warm = true;
    p.warm_max_age = Duration{max_age_ms};
    c.processes = {p};
    c.restart_backoff_initial = Duration{500};
    c.restart_backoff_max = Duration{4000};
    return c;
}

ev::acquire_result won(std::int64_t term, long long sent, std::string previous = "") {
    ev::acquire_result a;
    a.won = true;
    a.term = term;
    a.holder = "me";
    a.sent_at = at(sent);
    a.previous_holder = std::move(previous);
    return a;
}

ev::acquire_result lost(long long sent) {
    ev::acquire_result a;
    a.won = false;
    a.term = 1;
    a.holder = "other";
    a.remaining = Duration{2500};
    a.sent_at = at(sent);
    return a;
}

/// A standby whose warm scheduler said ready at 100 ms.
Election ready_standby(ElectionConfig cfg = warm_cfg()) {
    Election e(std::move(cfg), "me");
    const Ready first = e.step(ev::tick{}, at(0));
    EXPECT_EQ(all<act::warm_start>(first).size(), 1u);
    e.step(lost(0), at(5));
    const Ready r = e.step(ev::warm_ready{"scheduler"}, at(100));
    EXPECT_TRUE(has_record(r, "warm_ready"));
    EXPECT_EQ(e.warm_state("scheduler"), WarmState::ready);
    return e;
}

TEST(WarmStandby, AStandbyPreStartsItAndItNeverCountsAsRunning) {
    Election e(warm_cfg(), "me");
    const Ready r = e.step(ev::tick{}, at(0));
    ASSERT_EQ(all<act::warm_start>(r).size(), 1u);
    EXPECT_EQ(all<act::warm_start>(r)[0].name, "scheduler");
    EXPECT_TRUE(all<act::start_process>(r).empty());
    EXPECT_EQ(all<act::try_acquire>(r).size(), 1u) << "a warm copy must not hold up the acquire";
    EXPECT_EQ(e.process_state("scheduler"), ProcState::stopped);
    EXPECT_FALSE(e.any_process_alive());
    e.step(lost(0), at(5));
    e.step(ev::warm_ready{"scheduler"}, at(100));
    EXPECT_EQ(e.role(), Role::standby);
    EXPECT_EQ(e.process_state("scheduler"), ProcState::stopped);
    EXPECT_FALSE(e.any_process_alive());
    // Polling goes on with a ready warm copy, and no second copy is started.
    const Ready poll = e.step(ev::tick{}, at(600));
    EXPECT_EQ(all<act::try_acquire>(poll).size(), 1u);
    EXPECT_TRUE(all<act::warm_start>(poll).empty());
}

TEST(WarmStandby, OnPromotionTheReadyCopyGetsGoWithTheTermInsteadOfAStart) {
    Election e = ready_standby();
    e.step(ev::tick{}, at(600));
    const Ready r = e.step(won(4, 600, "other"), at(610));
    const auto go = all<act::warm_go>(r);
    ASSERT_EQ(go.size(), 1u);
    EXPECT_EQ(go[0].name, "scheduler");
    EXPECT_EQ(go[0].term, 4);
    EXPECT_TRUE(all<act::start_process>(r).empty());
    EXPECT_TRUE(all<act::warm_stop>(r).empty());
    EXPECT_TRUE(has_record(r, "process_started"));
    EXPECT_EQ(e.process_state("scheduler"), ProcState::running);
    EXPECT_EQ(e.warm_state("scheduler"), WarmState::none);
    // It is now the running process: the kill at the deadline covers it as any other.
    const Ready late = e.step(ev::tick{}, at(610 + 3000));
    EXPECT_EQ(all<act::kill_process>(late).size(), 1u);
}

TEST(WarmStandby, ACopyNotReadyYetIsStoppedAndTheProcessStartsCold) {
    Election e(warm_cfg(), "me");
    e.step(ev::tick{}, at(0));
    const Ready r = e.step(won(1, 0), at(20));
    EXPECT_EQ(all<act::start_process>(r).size(), 1u);
    EXPECT_TRUE(all<act::warm_go>(r).empty());
    EXPECT_EQ(all<act::warm_stop>(r).size(), 1u);
    // Its late ready changes nothing; its end starts no new copy while active.
    const Ready late = e.step(ev::warm_ready{"scheduler"}, at(50));
    EXPECT_TRUE(all<act::warm_go>(late).empty());
    const Ready gone = e.step(ev::warm_exited{"scheduler", "exited with status 0"}, at(60));
    EXPECT_TRUE(all<act::warm_start>(gone).empty());
    EXPECT_FALSE(has_record(gone, "warm_exited")) << "an asked-for end is no failure";
}

TEST(WarmStandby, TheCopyWaitsThroughThePromotionGatesThenGetsGo) {
    ElectionConfig c = warm_cfg();
    c.takeover = Duration{2000};
    Election e = ready_standby(c);
    e.step(ev::tick{}, at(600));
    const Ready r = e.step(won(2, 600, "other"), at(610));
    EXPECT_EQ(all<act::take_over>(r).size(), 1u);
    EXPECT_TRUE(all<act::warm_go>(r).empty()) << "go before the takeover answered";
    EXPECT_TRUE(all<act::warm_stop>(r).empty()) << "the warm copy was dropped at the gate";
    const Ready done = e.step(ev::takeover_result{2, true, "closed 1 job"}, at(640));
    ASSERT_EQ(all<act::warm_go>(done).size(), 1u);
    EXPECT_EQ(all<act::warm_go>(done)[0].term, 2);
}

TEST(WarmStandby, AVetoedPromotionStopsTheCopyAndANewOneStartsOnceStandby) {
    ElectionConfig c = warm_cfg();
    c.pre_promote = Duration{10000};
    c.handover_cooldown = Duration{6000};
    Election e = ready_standby(c);
    e.step(ev::tick{}, at(600));
    e.step(won(2, 600), at(610));
    const Ready veto = e.step(ev::hook_result{2, false, "exited with status 1"}, at(700));
    EXPECT_EQ(all<act::warm_stop>(veto).size(), 1u);
    EXPECT_EQ(all<act::release>(veto).size(), 1u);
    e.step(ev::release_result{2, true}, at(720));
    const Ready gone = e.step(ev::warm_exited{"scheduler", "exited with status 0"}, at(730));
    EXPECT_EQ(all<act::warm_start>(gone).size(), 1u) << "a standby again: warm again";
}

TEST(WarmStandby, ReplacedAfterItsMaxAge) {
    Election e = ready_standby(warm_cfg(60000));
    const Ready before = e.step(ev::tick{}, at(59999));
    EXPECT_TRUE(all<act::warm_stop>(before).empty());
    EXPECT_LE(before.next_wakeup, at(60000)) << "nothing wakes the core at the max age";
    const Ready r = e.step(ev::tick{}, at(60000));
    EXPECT_EQ(all<act::warm_stop>(r).size(), 1u);
    EXPECT_TRUE(has_record(r, "warm_replaced"));
    EXPECT_EQ(e.warm_state("scheduler"), WarmState::stopping);
    const Ready gone = e.step(ev::warm_exited{"scheduler", "exited with status 0"}, at(60100));
    EXPECT_EQ(all<act::warm_start>(gone).size(), 1u);
}

TEST(WarmStandby, ReplacedWhenTheShellSaysItIsStale) {
    Election e = ready_standby();
    const Ready r = e.step(ev::warm_stale{"scheduler", "watched path /venv changed"}, at(200));
    EXPECT_EQ(all<act::warm_stop>(r).size(), 1u);
    bool named = false;
    for (const auto& x : all<act::record>(r))
        named |= x.kind == "warm_replaced" && x.detail.find("/venv") != std::string::npos;
    EXPECT_TRUE(named);
    // A second report while it stops is ignored.
    EXPECT_TRUE(
        all<act::warm_stop>(e.step(ev::warm_stale{"scheduler", "SIGHUP"}, at(210))).empty());
    EXPECT_EQ(
        all<act::warm_start>(e.step(ev::warm_exited{"scheduler", "exited with status 0"}, at(300)))
            .size(),
        1u);
}

TEST(WarmStandby, AnUnexpectedEndBacksOffBeforeTheNextCopy) {
    Election e(warm_cfg(), "me");
    e.step(ev::tick{}, at(0));
    e.step(lost(0), at(5));
    const Ready r1 = e.step(ev::warm_exited{"scheduler", "exited with status 1"}, at(100));
    EXPECT_TRUE(has_record(r1, "warm_exited"));
    EXPECT_TRUE(all<act::warm_start>(r1).empty());
    EXPECT_LE(r1.next_wakeup, at(600));
    EXPECT_EQ(all<act::warm_start>(e.step(ev::tick{}, at(600))).size(), 1u);
    // The second failure in a row waits twice as long.
    e.step(ev::warm_exited{"scheduler", "exited with status 1"}, at(700));
    EXPECT_TRUE(all<act::warm_start>(e.step(ev::tick{}, at(1699))).empty());
    EXPECT_EQ(all<act::warm_start>(e.step(ev::tick{}, at(1700))).size(), 1u);
}

TEST(WarmStandby, AShutdownStopsTheCopyAndExitsWithoutWaitingForIt) {
    Election e = ready_standby();
    const Ready r = e.step(ev::stop_requested{"SIGTERM"}, at(200));
    EXPECT_EQ(all<act::warm_stop>(r).size(), 1u);
    EXPECT_EQ(all<act::exit>(r).size(), 1u);
}

TEST(WarmStandby, DemotedNodeWarmsAgainOnlyOnceItsProcessesAreGone) {
    Election e = ready_standby();
    e.step(ev::tick{}, at(600));
    e.step(won(3, 600, "other"), at(610));
    const Ready lost_it = e.step(ev::renew_result{false, 3, at(1100)}, at(1110));
    EXPECT_EQ(all<act::kill_process>(lost_it).size(), 1u);
    EXPECT_TRUE(all<act::warm_start>(lost_it).empty()) << "warm while the old one still runs";
    const Ready gone = e.step(ev::process_exited{"scheduler", "killed by signal 9"}, at(1200));
    EXPECT_EQ(e.role(), Role::standby);
    EXPECT_EQ(all<act::warm_start>(gone).size(), 1u);
}

TEST(WarmStandby, ANofailoverNodeOrAProcessWithoutWarmHasNone) {
    ElectionConfig c = warm_cfg();
    c.nofailover = true;
    Election n(c, "me");
    EXPECT_TRUE(all<act::warm_start>(n.step(ev::tick{}, at(0))).empty());
    ElectionConfig cold = warm_cfg();
    cold.processes[0].warm = false;
    Election e(cold, "me");
    e.step(ev::tick{}, at(0));
    const Ready r = e.step(won(1, 0), at(10));
    EXPECT_TRUE(all<act::warm_start>(r).empty());
    EXPECT_EQ(all<act::start_process>(r).size(), 1u);
}

}  // namespace
