// Election tests: replies about old terms, clock jumps, waits without a busy loop (the simulation:
// election_sim.hpp).
#include "election_sim.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace {

using namespace election_sim;

// ---- stale terms --------------------------------------------------------------------------------

TEST(Election, RepliesAboutAnOlderTermAreIgnored) {
    Sim sim(one_proc(), 2);
    sim.lease.term = 2;  // earlier terms were held before: node-0 wins term 3
    sim.node(1).wakeup = 100;
    sim.run_until(2010);
    ASSERT_EQ(sim.core(0).term(), 3);
    const TimePoint deadline = sim.core(0).lease_deadline();
    const auto expect_ignored = [&](int i, const Event& e, const char* what) {
        SCOPED_TRACE(what);
        const Ready r = sim.step(i, e);
        for (const Action& a : r.actions)
            ADD_FAILURE() << "unexpected action " << describe(a);
        EXPECT_EQ(sim.core(0).role(), Role::active);
        EXPECT_EQ(sim.core(0).term(), 3);
        EXPECT_EQ(sim.core(0).lease_deadline(), deadline);
        EXPECT_EQ(sim.core(0).process_state("scheduler"), ProcState::running);
    };
    expect_ignored(0, ev::renew_result{false, 2, at(2000)}, "refused renewal of term 2");
    expect_ignored(0, ev::renew_result{true, 2, at(2010)}, "good renewal of term 2");
    expect_ignored(0, ev::acquire_result{true, 2, std::string("node-0"), 0ms, at(2010), "", false},
                   "won acquire of term 2");
    expect_ignored(0,
                   ev::acquire_result{false, 2, std::string("node-1"), 2000ms, at(2010), "", false},
                   "lost acquire of term 2");
    expect_ignored(0, ev::release_result{2, true}, "release of term 2");
    expect_ignored(0, ev::db_failure{ev::db_op::renew, 2, "timeout"}, "renew failure of term 2");
    expect_ignored(0, ev::db_failure{ev::db_op::release, 2, "timeout"},
                   "release failure of term 2");
    // A standby ignores renewal replies altogether.
    for (const Action& a : sim.step(1, ev::renew_result{false, 1, at(2000)}).actions)
        ADD_FAILURE() << "standby acted on a renewal reply: " << describe(a);
    EXPECT_EQ(sim.core(1).role(), Role::standby);
    sim.run_until(10000);
    ASSERT_EQ(sim.failures(), 0);
    EXPECT_FALSE(has_record(sim.node(0), "renew_failing"));
    EXPECT_FALSE(has_record(sim.node(0), "lease_lost"));
    EXPECT_EQ(count_of<act::kill_process>(sim.node(0)), 0u);
    EXPECT_EQ(sim.core(0).term(), 3);
}

TEST(Election, LateRenewReplyDoesNotReviveAnExpiredTerm) {
    Sim sim(one_proc(), 1);
    sim.run_until(2010);
    sim.node(0).db = Db::drop;
    sim.run_until(4800);  // deadline 4700 passed, process stopped, release not answered yet
    ASSERT_EQ(sim.core(0).term(), 1);
    const TimePoint deadline = sim.core(0).lease_deadline();
    ASSERT_EQ(deadline, at(4700));
    // A good reply for term 1, sent before the deadline, arrives after it.
    const Ready r = sim.step(0, ev::renew_result{true, 1, at(2500)});
    for (const Action& a : r.actions) {
        EXPECT_FALSE(std::holds_alternative<act::start_process>(a)) << describe(a);
        EXPECT_FALSE(std::holds_alternative<act::arm_guard>(a)) << describe(a);
        EXPECT_FALSE(std::holds_alternative<act::renew>(a)) << describe(a);
    }
    EXPECT_EQ(sim.core(0).lease_deadline(), deadline);
    EXPECT_NE(sim.core(0).role(), Role::active);
    EXPECT_EQ(sim.core(0).process_state("scheduler"), ProcState::stopped);
}

// ---- clock jumps --------------------------------------------------------------------------------

TEST(Election, ClockJumpKillsFirst) {
    Sim sim(config_with({{"scheduler", 5000ms}, {"triggerer", 5000ms}}), 1);
    sim.run_until(2010);
    ASSERT_EQ(sim.core(0).role(), Role::active);
    sim.now += 60000;  // the whole machine was stopped for a minute
    const Ready r = sim.step(0, ev::tick{});
    ASSERT_GE(r.actions.size(), 2u);
    EXPECT_TRUE(std::holds_alternative<act::kill_process>(r.actions[0])) << describe(r.actions[0]);
    EXPECT_TRUE(std::holds_alternative<act::kill_process>(r.actions[1])) << describe(r.actions[1]);
    for (const Action& a : r.actions) {
        EXPECT_FALSE(std::holds_alternative<act::renew>(a)) << describe(a);
        EXPECT_FALSE(std::holds_alternative<act::start_process>(a)) << describe(a);
        EXPECT_FALSE(std::holds_alternative<act::try_acquire>(a)) << describe(a);
    }
    EXPECT_NE(sim.core(0).role(), Role::active);
    sim.run_until(sim.now + 10000);
    ASSERT_EQ(sim.failures(), 0);
    EXPECT_TRUE(has_record(sim.node(0), "fenced"));
    // It then gives the term back and wins a new one.
    EXPECT_EQ(sim.core(0).term(), 2);
    EXPECT_EQ(sim.core(0).role(), Role::active);
}

TEST(Election, ClockJumpKillsFirstWhateverEventWakesTheCore) {
    const std::vector<std::pair<const char*, Event>> wakers = {
        {"renew reply", ev::renew_result{true, 1, at(2000)}},
        {"lease hint", ev::lease_hint{}},
        {"stop request", ev::stop_requested{"SIGTERM"}},
        {"acquire reply",
         ev::acquire_result{false, 1, std::string("x"), 100ms, at(2000), "", false}},
        {"db failure", ev::db_failure{ev::db_op::renew, 1, "timeout"}},
    };
    for (const auto& [what, e] : wakers) {
        SCOPED_TRACE(what);
        Sim sim(one_proc(), 1);
        sim.run_until(2010);
        ASSERT_EQ(sim.core(0).role(), Role::active);
        const TimePoint deadline = sim.core(0).lease_deadline();
        sim.now += 60000;
        const Ready r = sim.step(0, e);
        ASSERT_FALSE(r.actions.empty());
        EXPECT_TRUE(std::holds_alternative<act::kill_process>(r.actions[0]))
            << describe(r.actions[0]);
        EXPECT_EQ(sim.core(0).lease_deadline(), deadline);  // a late reply extends nothing
        EXPECT_TRUE(sim.intervals.size() == 1 && sim.intervals[0].end == sim.now);
    }
}

TEST(Election, NoBusyLoopWhileWaitingForAProcessToExit) {
    // The process ignores even SIGKILL (D state); the core must still sleep between steps.
    Election e(one_proc(), "node-0");
    Ready r = e.step(ev::tick{}, at(0));
    r = e.step(ev::acquire_result{true, 1, std::string("node-0"), 0ms, at(0), "", false}, at(0));
    long long now = 0;
    std::size_t kills = 0;
    int steps = 0;
    while (r.next_wakeup != TimePoint::max() && steps < 200) {
        ASSERT_GT(r.next_wakeup, at(now));
        now = ms_of(r.next_wakeup);
        r = e.step(ev::tick{}, at(now));
        ++steps;
        for (const Action& a : r.actions)
            kills += std::holds_alternative<act::kill_process>(a) ? 1u : 0u;
    }
    // No renewal was ever answered: it fenced once, past the deadline it has nothing left to do
    // by time and sleeps until the exit is reported, without repeating the kill.
    EXPECT_LT(steps, 200);
    EXPECT_EQ(r.next_wakeup, TimePoint::max());
    EXPECT_GT(now, 2700 - 100 - 1);
    EXPECT_EQ(kills, 1u);
    EXPECT_EQ(e.process_state("scheduler"), ProcState::stopping);
    // The exit report then lets it give the term back.
    r = e.step(ev::process_exited{"scheduler", "killed by signal 9"}, at(now + 5000));
    bool released = false;
    for (const Action& a : r.actions)
        released = released || std::holds_alternative<act::release>(a);
    EXPECT_TRUE(released);
}

}  // namespace
