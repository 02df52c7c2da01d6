// Unit tests for the guard's line protocol state (af::guard::GuardState).
#include "af/guard/guard_protocol.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

namespace {

using af::TimePoint;
using af::guard::arm_line;
using af::guard::groups_line;
using af::guard::GuardState;
using namespace std::chrono_literals;

/// A deadline far in the past of the boot clock (the machine has been up longer than 1 µs).
TimePoint past() {
    return TimePoint{} + 1us;
}

/// A deadline well in the future of the boot clock.
TimePoint future() {
    return af::boot_clock::now() + std::chrono::hours(1);
}

/// Compares every observable field, so "changes nothing" can be checked.
void expect_same(const GuardState& a, const GuardState& b) {
    EXPECT_EQ(a.conf_json, b.conf_json);
    EXPECT_EQ(a.term, b.term);
    EXPECT_EQ(a.deadline, b.deadline);
    EXPECT_EQ(a.groups, b.groups);
    EXPECT_EQ(a.fired, b.fired);
}

/// A state with everything set, to show that a rejected line leaves it alone.
GuardState armed_state() {
    GuardState s;
    EXPECT_TRUE(s.apply(R"(conf {"schema":"x"})"));
    EXPECT_TRUE(s.apply(arm_line(4, TimePoint{} + 5s)));
    EXPECT_TRUE(s.apply("groups 100 200"));
    return s;
}

TEST(GuardProtocol, InitialStateIsNotArmedAndNeverDue) {
    GuardState s;
    EXPECT_FALSE(s.term.has_value());
    EXPECT_EQ(s.deadline, TimePoint::max());
    EXPECT_TRUE(s.groups.empty());
    EXPECT_FALSE(s.fired);
    EXPECT_FALSE(s.due(TimePoint{}));
    EXPECT_FALSE(s.due(TimePoint::max()));
}

TEST(GuardProtocol, ConfKeepsTheJsonText) {
    GuardState s;
    ASSERT_TRUE(s.apply(R"(conf {"conninfo":"host=db1","schema":"af"})"));
    const auto j = nlohmann::json::parse(s.conf_json);
    EXPECT_EQ(j.at("conninfo"), "host=db1");
    EXPECT_EQ(j.at("schema"), "af");
}

TEST(GuardProtocol, ArmLineRoundTrips) {
    const TimePoint deadline = TimePoint{} + 123456789ns;
    EXPECT_EQ(arm_line(7, deadline), "arm 7 123456789\n");
    GuardState s;
    ASSERT_TRUE(s.apply(arm_line(7, deadline)));
    ASSERT_TRUE(s.term.has_value());
    EXPECT_EQ(*s.term, 7);
    EXPECT_EQ(s.deadline, deadline);
}

TEST(GuardProtocol, GroupsLineRoundTripsAndReplacesTheSet) {
    EXPECT_EQ(groups_line({}), "groups\n");
    EXPECT_EQ(groups_line({34, 12}), "groups 12 34\n");
    GuardState s;
    ASSERT_TRUE(s.apply(groups_line({12, 34})));
    EXPECT_EQ(s.groups, (std::set<pid_t>{12, 34}));
    // A new line replaces the set rather than adding to it.
    ASSERT_TRUE(s.apply("groups 56"));
    EXPECT_EQ(s.groups, (std::set<pid_t>{56}));
    ASSERT_TRUE(s.apply("groups 7 7 8"));
    EXPECT_EQ(s.groups, (std::set<pid_t>{7, 8}));
    // An empty list is valid and clears the set.
    ASSERT_TRUE(s.apply(groups_line({})));
    EXPECT_TRUE(s.groups.empty());
}

TEST(GuardProtocol, RejectedLinesChangeNothing) {
    const char* bad[] = {
        "",           "   ",        "hello",       "ARM 1 2",       "disarmed",    "arm",
        "arm 3",      "arm 0 1000", "arm -2 1000", "arm x 1000",    "arm 3 soon",  "groups 1",
        "groups 0",   "groups -5",  "groups abc",  "groups 12 abc", "groups 12 1", "groups 12 -12",
        "groups 1.5",
    };
    for (const char* line : bad) {
        SCOPED_TRACE(std::string("line: \"") + line + "\"");
        GuardState s = armed_state();
        const GuardState before = s;
        EXPECT_FALSE(s.apply(line));
        expect_same(s, before);
    }
}

TEST(GuardProtocol, DueExactlyFromTheDeadlineWhileArmedWithGroups) {
    const TimePoint d = TimePoint{} + 5s;
    GuardState s;
    ASSERT_TRUE(s.apply(arm_line(2, d)));
    // Armed but nothing to kill: never due.
    EXPECT_FALSE(s.due(d + 1h));
    ASSERT_TRUE(s.apply("groups 4242"));
    EXPECT_FALSE(s.due(d - 1ns));
    EXPECT_TRUE(s.due(d));
    EXPECT_TRUE(s.due(d + 1h));
    // Once fired it is not due again for the same arm.
    s.fired = true;
    EXPECT_FALSE(s.due(d + 1h));
}

TEST(GuardProtocol, GroupsWithoutArmAreNeverDue) {
    GuardState s;
    ASSERT_TRUE(s.apply("groups 4242"));
    EXPECT_FALSE(s.due(TimePoint::max()));
}

TEST(GuardProtocol, DisarmClearsTermDeadlineAndFired) {
    GuardState s = armed_state();
    s.fired = true;
    ASSERT_TRUE(s.apply("disarm"));
    EXPECT_FALSE(s.term.has_value());
    EXPECT_EQ(s.deadline, TimePoint::max());
    EXPECT_FALSE(s.fired);
    EXPECT_FALSE(s.due(TimePoint::max()));
    // The process groups are not forgotten by a disarm; only the deadline is.
    EXPECT_EQ(s.groups, (std::set<pid_t>{100, 200}));
}

TEST(GuardProtocol, ExtendingTheSameTermMovesTheDeadline) {
    GuardState s;
    ASSERT_TRUE(s.apply("groups 4242"));
    ASSERT_TRUE(s.apply(arm_line(3, TimePoint{} + 5s)));
    ASSERT_TRUE(s.apply(arm_line(3, TimePoint{} + 8s)));
    EXPECT_EQ(*s.term, 3);
    EXPECT_FALSE(s.due(TimePoint{} + 6s));
    EXPECT_TRUE(s.due(TimePoint{} + 8s));
}

TEST(GuardProtocol, AfterFiringTheSameTermWithAPastDeadlineStaysFired) {
    GuardState s;
    ASSERT_TRUE(s.apply("groups 4242"));
    ASSERT_TRUE(s.apply(arm_line(3, past())));
    ASSERT_TRUE(s.due(past()));
    s.fired = true;  // what the guard does after killing
    // A late extension of the same term that is already over must not make it fire again.
    ASSERT_TRUE(s.apply(arm_line(3, past() + 1ns)));
    EXPECT_TRUE(s.fired);
    EXPECT_FALSE(s.due(TimePoint::max()));
}

TEST(GuardProtocol, AfterFiringAFutureDeadlineOfTheSameTermRearms) {
    GuardState s;
    ASSERT_TRUE(s.apply("groups 4242"));
    ASSERT_TRUE(s.apply(arm_line(3, past())));
    s.fired = true;
    const TimePoint d = future();
    ASSERT_TRUE(s.apply(arm_line(3, d)));
    EXPECT_FALSE(s.fired);
    EXPECT_FALSE(s.due(d - 1ns));
    EXPECT_TRUE(s.due(d));
}

TEST(GuardProtocol, ANewTermRearmsAfterFiring) {
    GuardState s;
    ASSERT_TRUE(s.apply("groups 4242"));
    ASSERT_TRUE(s.apply(arm_line(3, past())));
    s.fired = true;
    // New term, even with a deadline that has already passed: the guard must be able to fire
    // again for the new term's processes.
    ASSERT_TRUE(s.apply(arm_line(4, past())));
    EXPECT_EQ(*s.term, 4);
    EXPECT_FALSE(s.fired);
    EXPECT_TRUE(s.due(past()));
}

// Regression (fixed; src/guard/guard_protocol.cpp, GuardState::apply, the "groups" branch, lines
// 33-35): the check `p <= 1` is made on the long long before it is narrowed to pid_t, so a value
// outside pid_t's range wraps to 0 or a negative number. "groups 4294967296" is accepted as pgid 0
// and "groups 4294967295" as pgid -1; guard_main.cpp then calls kill(-g, SIGKILL), i.e. kill(0,
// ...) (the guard's own process group, which may include the daemon) or kill(1, ...) (init),
// exactly what the comment "never kill(-1) or kill(-0)" promises to prevent. Expected: rejected.
TEST(GuardProtocol, GroupsOutsidePidRangeAreRejected) {
    for (const char* line : {"groups 4294967296", "groups 4294967295", "groups 4294967294"}) {
        SCOPED_TRACE(line);
        GuardState s;
        EXPECT_FALSE(s.apply(line));
        for (pid_t g : s.groups)
            EXPECT_GT(g, 1);
    }
}

}  // namespace
