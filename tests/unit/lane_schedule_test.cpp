// Hedged renewals: which lane sends, when a copy goes out, and which failures reach the core.
// Pure logic, the time passed in.
#include <gtest/gtest.h>

#include "fake_time.hpp"

#include "af/db/lane_schedule.hpp"
#include "af/db/renew_timing.hpp"

namespace {

using namespace std::chrono_literals;
using af::Duration;
using af::TimePoint;
using af::db::LaneSchedule;
using af::test::t;

TEST(LaneSchedule, RequestsTakeTurnsOverIdleLanes) {
    LaneSchedule s(3, 100ms);
    auto a = s.request(7, t(0));
    ASSERT_TRUE(a);
    EXPECT_EQ(a->term, 7);
    EXPECT_TRUE(s.done(a->lane, true));
    auto b = s.request(7, t(10));
    ASSERT_TRUE(b);
    EXPECT_NE(b->lane, a->lane);  // both connections stay warm
}

TEST(LaneSchedule, NoHedgeBeforeItsTime) {
    LaneSchedule s(3, 100ms);
    auto a = s.request(7, t(0));
    ASSERT_TRUE(a);
    EXPECT_EQ(s.next_hedge(), t(100));
    EXPECT_FALSE(s.hedge(t(99)));
    auto h = s.hedge(t(100));
    ASSERT_TRUE(h);
    EXPECT_EQ(h->term, 7);
    EXPECT_NE(h->lane, a->lane);
    EXPECT_EQ(s.busy(), 2u);
}

TEST(LaneSchedule, EachRenewalIsCopiedOnce) {
    LaneSchedule s(3, 100ms);
    ASSERT_TRUE(s.request(7, t(0)));
    ASSERT_TRUE(s.hedge(t(100)));
    EXPECT_FALSE(s.hedge(t(500)));  // neither the original nor the copy is copied again
    EXPECT_EQ(s.next_hedge(), TimePoint::max());
}

TEST(LaneSchedule, AnsweredRenewalIsNotCopied) {
    LaneSchedule s(3, 100ms);
    auto a = s.request(7, t(0));
    ASSERT_TRUE(a);
    EXPECT_TRUE(s.done(a->lane, true));
    EXPECT_FALSE(s.hedge(t(200)));
    EXPECT_EQ(s.next_hedge(), TimePoint::max());
}

TEST(LaneSchedule, FailureOfACopyIsHiddenWhenItsSiblingWasConfirmed) {
    LaneSchedule s(3, 100ms);
    auto a = s.request(7, t(0));
    auto h = s.hedge(t(100));
    ASSERT_TRUE(a && h);
    EXPECT_TRUE(s.done(h->lane, true));    // the copy got through
    EXPECT_FALSE(s.done(a->lane, false));  // the stuck original timing out changes nothing
}

TEST(LaneSchedule, FailureWaitsForTheSiblingStillOut) {
    LaneSchedule s(3, 100ms);
    auto a = s.request(7, t(0));
    auto h = s.hedge(t(100));
    ASSERT_TRUE(a && h);
    EXPECT_FALSE(s.done(a->lane, false));  // the copy is still out: its answer decides
    EXPECT_TRUE(s.done(h->lane, false));   // both failed: the core hears of it once
}

TEST(LaneSchedule, LoneFailureIsReported) {
    LaneSchedule s(3, 100ms);
    auto a = s.request(7, t(0));
    ASSERT_TRUE(a);
    EXPECT_TRUE(s.done(a->lane, false));
}

TEST(LaneSchedule, OlderFailureAfterANewerConfirmationIsHidden) {
    LaneSchedule s(3, 100ms);
    auto a = s.request(7, t(0));
    auto b = s.request(7, t(50));
    ASSERT_TRUE(a && b);
    EXPECT_TRUE(s.done(b->lane, true));
    EXPECT_FALSE(s.done(a->lane, false));
}

TEST(LaneSchedule, AllLanesBusyDropsTheRequestAndTheHedge) {
    LaneSchedule s(2, 100ms);
    ASSERT_TRUE(s.request(7, t(0)));
    ASSERT_TRUE(s.request(7, t(10)));
    EXPECT_FALSE(s.request(7, t(20)));  // the core resends when it is overdue
    EXPECT_FALSE(s.hedge(t(300)));
    EXPECT_EQ(s.next_hedge(), TimePoint::max());  // nothing to wake up for until a lane frees
}

TEST(LaneSchedule, OldestUnansweredIsCopiedFirst) {
    LaneSchedule s(3, 100ms);
    auto a = s.request(7, t(0));
    auto b = s.request(8, t(40));
    ASSERT_TRUE(a && b);
    auto h = s.hedge(t(150));
    ASSERT_TRUE(h);
    EXPECT_EQ(h->term, 7);
}

TEST(RenewTiming, DerivedFromTheLeaseTimings) {
    // ttl 1000, renew every 166, fence margin 100
    const auto r =
        af::db::renew_timing({.ttl = 1000ms, .renew_interval = 166ms, .fence_margin = 100ms});
    EXPECT_EQ(r.statement_timeout, 900ms);  // an answer after the deadline is worth nothing
    EXPECT_EQ(r.tcp_user_timeout, 900ms);
    EXPECT_EQ(r.hedge_after, 83ms);  // half an interval: before the core resends
    EXPECT_LT(r.hedge_after, Duration{166});
    EXPECT_GE(r.keepalive_idle_s, 1);
}

TEST(RenewTiming, HasFloors) {
    const auto r =
        af::db::renew_timing({.ttl = 500ms, .renew_interval = 20ms, .fence_margin = 450ms});
    EXPECT_EQ(r.statement_timeout, 100ms);
    EXPECT_EQ(r.hedge_after, 20ms);
}

}  // namespace
