// `history`: terms rebuilt from event rows. Fed rows by hand, as the daemon and its guard write
// them; no database.
#include <gtest/gtest.h>

#include "af/history/term_history.hpp"

using af::history::Event;
using af::history::term_history;

namespace {

Event ev(const char* node, double at_ms, std::int64_t term, const char* kind,
         const char* detail = "") {
    return Event{node, "t" + std::to_string(static_cast<long>(at_ms)), at_ms, term, kind, detail};
}

}  // namespace

TEST(TermHistory, NoEventsNoTerms) {
    EXPECT_TRUE(term_history({}).empty());
}

TEST(TermHistory, CurrentTermIsActiveWithoutEnd) {
    const auto h = term_history({ev("a", 0, 1, "became_active"), ev("a", 5, 1, "process_started")});
    ASSERT_EQ(h.size(), 1u);
    EXPECT_EQ(h[0].ended, "active");
    EXPECT_FALSE(h[0].end.has_value());
    EXPECT_FALSE(h[0].gap_ms.has_value());
}

TEST(TermHistory, GuardReleaseReadsDaemonDiedWithExactGap) {
    const auto h = term_history({
        ev("a", 0, 1, "became_active"),
        ev("a", 10, 1, "process_started"),
        ev("a", 9000, 1, "daemon_died", "the guard killed its processes and releases term 1"),
        ev("b", 9042, 2, "became_active"),
    });
    ASSERT_EQ(h.size(), 2u);
    EXPECT_EQ(h[0].ended, "daemon died");
    EXPECT_EQ(h[0].end, "t9000");
    ASSERT_TRUE(h[0].gap_ms.has_value());
    EXPECT_DOUBLE_EQ(*h[0].gap_ms, 42.0);
    EXPECT_FALSE(h[0].gap_is_upper_bound);
    EXPECT_EQ(h[1].holder, "b");
    EXPECT_EQ(h[1].ended, "active");
}

TEST(TermHistory, SwitchoverWinsOverTheReleaseThatFollowsIt) {
    const auto h = term_history({
        ev("a", 0, 3, "became_active"),
        ev("a", 100, 3, "switchover", "to b"),
        ev("a", 160, 3, "process_stopped"),
        ev("a", 170, 3, "released"),
        ev("b", 200, 4, "became_active"),
    });
    EXPECT_EQ(h[0].ended, "switchover");
    EXPECT_EQ(h[0].end, "t170");  // the term ends at the release, not at the request
    EXPECT_DOUBLE_EQ(*h[0].gap_ms, 30.0);
}

TEST(TermHistory, SigtermShutdownReadsReleased) {
    const auto h = term_history({ev("a", 0, 1, "became_active"), ev("a", 50, 1, "shutdown"),
                                 ev("a", 60, 1, "released"), ev("b", 70, 2, "became_active")});
    EXPECT_EQ(h[0].ended, "released");
    EXPECT_DOUBLE_EQ(*h[0].gap_ms, 10.0);
}

TEST(TermHistory, GapCountsFromTheReleaseNotTheStepDownRecordedAfterIt) {
    // The daemon records "released" and then "stepped_down" in one step; under load the second
    // row can land a millisecond or more later, after the next node already won.
    const auto h = term_history({ev("a", 0, 1, "became_active"), ev("a", 50, 1, "shutdown"),
                                 ev("a", 60, 1, "released"), ev("b", 62, 2, "became_active"),
                                 ev("a", 63, 1, "stepped_down")});
    EXPECT_EQ(h[0].ended, "released");
    EXPECT_EQ(h[0].end, "t60");
    EXPECT_DOUBLE_EQ(*h[0].gap_ms, 2.0);
}

TEST(TermHistory, LostLeaseEndsAtTheStepDown) {
    const auto h = term_history({ev("a", 0, 1, "became_active"), ev("a", 40, 1, "lease_lost"),
                                 ev("a", 41, 1, "stepped_down"), ev("b", 70, 2, "became_active")});
    EXPECT_EQ(h[0].end, "t41");
    EXPECT_DOUBLE_EQ(*h[0].gap_ms, 29.0);
}

TEST(TermHistory, TerminateAndCrashLoopAreNamed) {
    const auto h = term_history({
        ev("a", 0, 1, "became_active"),
        ev("a", 10, 1, "terminate_requested", "by admin"),
        ev("a", 20, 1, "released"),
        ev("b", 30, 2, "became_active"),
        ev("b", 40, 2, "crash_loop", "scheduler crashed 3 times"),
        ev("b", 50, 2, "released"),
        ev("a", 60, 3, "became_active"),
    });
    ASSERT_EQ(h.size(), 3u);
    EXPECT_EQ(h[0].ended, "terminate");
    EXPECT_EQ(h[0].detail, "by admin");
    EXPECT_EQ(h[1].ended, "crash loop");
}

TEST(TermHistory, NoRecordedEndIsExpiredWithAnUpperBoundGap) {
    // Host lost: the holder wrote nothing at its end; its late records after the next term
    // began (it woke up and found itself fenced) do not count as an end of its term.
    const auto h = term_history({
        ev("a", 0, 1, "became_active"),
        ev("a", 500, 1, "process_started"),
        ev("b", 3500, 2, "became_active"),
        ev("a", 9000, 1, "fenced", "woke up past its deadline"),
    });
    ASSERT_EQ(h.size(), 2u);
    EXPECT_EQ(h[0].ended, "expired");
    EXPECT_FALSE(h[0].end.has_value());
    EXPECT_TRUE(h[0].gap_is_upper_bound);
    EXPECT_DOUBLE_EQ(*h[0].gap_ms, 3000.0);
}

TEST(TermHistory, OtherNodesEventsDoNotEndTheTerm) {
    const auto h = term_history(
        {ev("a", 0, 1, "became_active"), ev("b", 10, 0, "shutdown"), ev("b", 11, 0, "released")});
    ASSERT_EQ(h.size(), 1u);
    EXPECT_EQ(h[0].ended, "active");
}

TEST(TermHistory, JsonHasEveryKey) {
    const auto h = term_history({ev("a", 0, 1, "became_active")});
    const auto j = af::history::to_json(h[0]);
    for (const char* k :
         {"term", "holder", "start", "end", "ended", "detail", "gap_ms", "gap_is_upper_bound"})
        EXPECT_TRUE(j.contains(k)) << k;
    EXPECT_TRUE(j["end"].is_null());
}
