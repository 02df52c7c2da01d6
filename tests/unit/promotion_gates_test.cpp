// Unit tests for the promotion gates of the election core: the takeover step (close out the
// previous holder's Airflow jobs) and hooks.pre_promote, both between winning a term and
// starting the processes, and the on_role_change notifications. One Election driven by hand on
// a fake clock; the database and the shell are the test.
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
using namespace std::chrono_literals;

TimePoint at(long long ms) {
    return TimePoint{} + std::chrono::milliseconds(ms);
}

ElectionConfig gated(bool takeover, bool pre_promote, bool role_hook = false) {
    ElectionConfig c;
    // The timings these tests were written for, not the shipped defaults.
    c.ttl = Duration{3000};
    c.renew_interval = Duration{500};
    c.fence_margin = Duration{300};
    c.poll_interval = Duration{500};
    c.processes = {{"scheduler", Duration{500}}};
    if (takeover)
        c.takeover = Duration{2000};
    if (pre_promote)
        c.pre_promote = Duration{1500};
    c.role_change_hook = role_hook;
    c.handover_cooldown = Duration{6000};
    return c;
}

ev::acquire_result won(std::int64_t term, long long sent, std::string previous,
                       bool released = true) {
    ev::acquire_result a;
    a.won = true;
    a.term = term;
    a.holder = "me";
    a.sent_at = at(sent);
    a.previous_holder = std::move(previous);
    a.previous_released = released;
    return a;
}

/// Steps a fresh core to its first try_acquire and answers it with `result` at `t`.
Ready win(Election& e, const ev::acquire_result& result, long long t) {
    const Ready first = e.step(ev::tick{}, at(0));
    EXPECT_EQ(all<act::try_acquire>(first).size(), 1u);
    return e.step(result, at(t));
}

TEST(PromotionGates, TakeoverComesBeforeTheFirstStartAndNamesThePreviousHolder) {
    Election e(gated(true, false), "me");
    const Ready r = win(e, won(7, 0, "other"), 10);
    const auto t = all<act::take_over>(r);
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].term, 7);
    EXPECT_EQ(t[0].previous_holder, "other");
    EXPECT_TRUE(all<act::start_process>(r).empty()) << "started before the takeover answered";
    EXPECT_EQ(r.next_wakeup, std::min(r.next_wakeup, at(10 + 2000)));

    const Ready done = e.step(ev::takeover_result{7, true, "closed out 1 job"}, at(40));
    ASSERT_EQ(all<act::start_process>(done).size(), 1u);
    EXPECT_EQ(all<act::start_process>(done)[0].term, 7);
    EXPECT_TRUE(has_record(done, "takeover"));
}

TEST(PromotionGates, AFailedTakeoverIsRecordedAndTheProcessesStartAnyway) {
    Election e(gated(true, false), "me");
    win(e, won(3, 0, "other"), 5);
    const Ready r =
        e.step(ev::takeover_result{3, false, "permission denied for table job"}, at(30));
    EXPECT_TRUE(has_record(r, "takeover_failed"));
    EXPECT_EQ(all<act::start_process>(r).size(), 1u);
    const auto rec = all<act::record>(r);
    bool named = false;
    for (const auto& x : rec)
        named |= x.kind == "takeover_failed" &&
                 x.detail.find("permission denied for table job") != std::string::npos;
    EXPECT_TRUE(named) << "the failure's reason is not in the event";
}

TEST(PromotionGates, NoAnswerWithinTheTimeoutCancelsAndTheStartWaitsForTheAnswer) {
    // Issue 22: a statement given up on may still commit; started processes would then have
    // their own new jobs failed when the previous holder was this node.
    Election e(gated(true, false), "me");
    const Ready r = win(e, won(4, 0, "me"), 0);
    EXPECT_LE(r.next_wakeup, at(2000)) << "nothing wakes the core at the takeover timeout";
    // Renewals go on while the gate is closed.
    const Ready mid = e.step(ev::tick{}, at(500));
    EXPECT_EQ(all<act::renew>(mid).size(), 1u);
    EXPECT_TRUE(all<act::start_process>(mid).empty());
    e.step(ev::renew_result{true, 4, at(500)}, at(510));
    const Ready before = e.step(ev::tick{}, at(1999));
    EXPECT_TRUE(all<act::start_process>(before).empty());
    e.step(ev::renew_result{true, 4, at(1999)}, at(1999));
    const Ready timeout = e.step(ev::tick{}, at(2000));
    ASSERT_EQ(all<act::cancel_takeover>(timeout).size(), 1u);
    EXPECT_EQ(all<act::cancel_takeover>(timeout)[0].term, 4);
    EXPECT_TRUE(all<act::start_process>(timeout).empty())
        << "started while the takeover statement may still commit";
    const Ready still = e.step(ev::tick{}, at(2050));
    EXPECT_TRUE(all<act::start_process>(still).empty());
    const Ready late = e.step(ev::takeover_result{4, false, "canceling statement"}, at(2100));
    EXPECT_TRUE(has_record(late, "takeover_failed"));
    EXPECT_EQ(all<act::start_process>(late).size(), 1u) << "the final answer opens the gate";
}

TEST(PromotionGates, NoAnswerToTheCancellationEitherHandsTheTermOver) {
    Election e(gated(true, false), "me");
    win(e, won(5, 0, "other"), 0);
    for (long long t = 500; t < 4000; t += 500) {
        const Ready tick = e.step(ev::tick{}, at(t));
        EXPECT_TRUE(all<act::start_process>(tick).empty()) << t;
        e.step(ev::renew_result{true, 5, at(t)}, at(t));
    }
    const Ready gone = e.step(ev::tick{}, at(4000));
    EXPECT_TRUE(has_record(gone, "takeover_failed"));
    EXPECT_TRUE(all<act::start_process>(gone).empty());
    EXPECT_EQ(all<act::release>(gone).size(), 1u) << "the term is handed over, not started";
}

TEST(PromotionGates, TheFirstTermEverHasNothingToTakeOver) {
    Election e(gated(true, false), "me");
    const Ready r = win(e, won(1, 0, ""), 5);
    EXPECT_TRUE(all<act::take_over>(r).empty());
    EXPECT_FALSE(has_record(r, "takeover_skipped"));
    EXPECT_EQ(all<act::start_process>(r).size(), 1u);
}

TEST(PromotionGates, AnUnknownPreviousHolderIsSkippedAndSaidSo) {
    Election e(gated(true, false), "me");
    const Ready r = win(e, won(9, 0, ""), 5);
    EXPECT_TRUE(all<act::take_over>(r).empty());
    EXPECT_TRUE(has_record(r, "takeover_skipped"));
    EXPECT_EQ(all<act::start_process>(r).size(), 1u);
}

TEST(PromotionGates, OwnPreviousTermIsClosedOutToo) {
    // Our scheduler of the previous term was killed (fenced or crash loop) before we acquired
    // again, so its job row is as dead as another node's.
    Election e(gated(true, false), "me");
    const Ready r = win(e, won(5, 0, "me"), 5);
    ASSERT_EQ(all<act::take_over>(r).size(), 1u);
    EXPECT_EQ(all<act::take_over>(r)[0].previous_holder, "me");
}

TEST(PromotionGates, WithoutTheAirflowSectionNothingWaits) {
    Election e(gated(false, false), "me");
    const Ready r = win(e, won(5, 0, "other"), 5);
    EXPECT_TRUE(all<act::take_over>(r).empty());
    EXPECT_EQ(all<act::start_process>(r).size(), 1u);
}

TEST(PromotionGates, AnAnswerAboutAnotherTermDoesNotOpenTheGate) {
    Election e(gated(true, false), "me");
    win(e, won(5, 0, "other"), 5);
    const Ready r = e.step(ev::takeover_result{4, true, "old"}, at(20));
    EXPECT_TRUE(all<act::start_process>(r).empty());
}

TEST(PromotionGates, PrePromoteAndTakeoverRunTogetherAndBothMustAnswer) {
    Election e(gated(true, true), "me");
    const Ready r = win(e, won(6, 0, "other"), 5);
    ASSERT_EQ(all<act::take_over>(r).size(), 1u);
    ASSERT_EQ(all<act::run_pre_promote>(r).size(), 1u);
    EXPECT_EQ(all<act::run_pre_promote>(r)[0].previous_holder, "other");
    const Ready a = e.step(ev::hook_result{6, true, "exited with status 0"}, at(50));
    EXPECT_TRUE(all<act::start_process>(a).empty()) << "started before the takeover answered";
    const Ready b = e.step(ev::takeover_result{6, true, "closed"}, at(60));
    EXPECT_EQ(all<act::start_process>(b).size(), 1u);
}

TEST(PromotionGates, AVetoReleasesAtOnceAndWaitsTheCooldownBeforeTryingAgain) {
    Election e(gated(false, true), "me");
    win(e, won(2, 0, "other"), 5);
    const Ready veto = e.step(ev::hook_result{2, false, "exited with status 3"}, at(100));
    EXPECT_TRUE(has_record(veto, "promotion_vetoed"));
    EXPECT_TRUE(all<act::start_process>(veto).empty());
    ASSERT_EQ(all<act::release>(veto).size(), 1u);
    EXPECT_EQ(all<act::release>(veto)[0].reserved_for, "") << "any standby may take it";
    const Ready released = e.step(ev::release_result{2, true}, at(120));
    EXPECT_TRUE(all<act::try_acquire>(released).empty());
    EXPECT_EQ(e.role(), Role::standby);
    EXPECT_GE(released.next_wakeup, at(100 + 6000));
    // A release hint from the next holder does not bring it back early either.
    const Ready hint = e.step(ev::lease_hint{}, at(3000));
    EXPECT_TRUE(all<act::try_acquire>(hint).empty());
    const Ready again = e.step(ev::tick{}, at(6100));
    EXPECT_EQ(all<act::try_acquire>(again).size(), 1u) << "a lone vetoing node tries again";
}

TEST(PromotionGates, APrePromoteHookThatNeverAnswersIsAVeto) {
    Election e(gated(false, true), "me");
    const Ready r = win(e, won(2, 0, "other"), 0);
    EXPECT_LE(r.next_wakeup, at(1500));
    e.step(ev::tick{}, at(500));
    e.step(ev::renew_result{true, 2, at(500)}, at(505));
    const Ready t = e.step(ev::tick{}, at(1500));
    EXPECT_TRUE(has_record(t, "promotion_vetoed"));
    EXPECT_EQ(all<act::release>(t).size(), 1u);
    EXPECT_TRUE(all<act::start_process>(t).empty());
}

TEST(PromotionGates, RoleChangePromoteAfterTheGatesDemoteAfterTheRelease) {
    Election e(gated(true, false, true), "me");
    const Ready r = win(e, won(8, 0, "other"), 5);
    EXPECT_TRUE(all<act::role_change>(r).empty()) << "promote announced before the gates passed";
    const Ready open = e.step(ev::takeover_result{8, true, "closed"}, at(30));
    const auto rc = all<act::role_change>(open);
    ASSERT_EQ(rc.size(), 1u);
    EXPECT_EQ(rc[0].action, af::core::RoleChange::promote);
    EXPECT_EQ(rc[0].role, Role::active);
    EXPECT_EQ(rc[0].term, 8);
    EXPECT_EQ(rc[0].previous_holder, "other");
    // The promote comes before the start it announces.
    std::size_t promote_at = 0, start_at = 0;
    for (std::size_t i = 0; i < open.actions.size(); ++i) {
        if (std::holds_alternative<act::role_change>(open.actions[i]))
            promote_at = i;
        if (std::holds_alternative<act::start_process>(open.actions[i]))
            start_at = i;
    }
    EXPECT_LT(promote_at, start_at);

    const Ready stop = e.step(ev::stop_requested{"SIGTERM"}, at(100));
    EXPECT_TRUE(all<act::role_change>(stop).empty()) << "demote before the lease was released";
    const Ready exited = e.step(ev::process_exited{"scheduler", "exited with status 0"}, at(200));
    ASSERT_EQ(all<act::release>(exited).size(), 1u);
    const Ready rel = e.step(ev::release_result{8, true}, at(210));
    const auto d = all<act::role_change>(rel);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].action, af::core::RoleChange::demote);
    EXPECT_EQ(d[0].role, Role::stopped);
    EXPECT_EQ(d[0].term, 8);
}

TEST(PromotionGates, AVetoedTermIsNeitherPromotedNorDemoted) {
    Election e(gated(false, true, true), "me");
    win(e, won(2, 0, "other"), 5);
    const Ready v = e.step(ev::hook_result{2, false, "exited with status 1"}, at(50));
    EXPECT_TRUE(all<act::role_change>(v).empty());
    const Ready rel = e.step(ev::release_result{2, true}, at(60));
    EXPECT_TRUE(all<act::role_change>(rel).empty());
}

TEST(PromotionGates, LosingTheLeaseWhileGatedNeverStartsAndDemotesToStandby) {
    Election e(gated(true, false, true), "me");
    win(e, won(3, 0, "other"), 0);
    e.step(ev::tick{}, at(500));
    const Ready lost = e.step(ev::renew_result{false, 3, at(500)}, at(510));
    EXPECT_TRUE(all<act::start_process>(lost).empty());
    EXPECT_TRUE(all<act::role_change>(lost).empty()) << "never promoted, so nothing to demote";
    const Ready late = e.step(ev::takeover_result{3, true, "closed"}, at(520));
    EXPECT_TRUE(all<act::start_process>(late).empty());
}

}  // namespace
