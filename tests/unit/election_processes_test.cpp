// Election tests: supervision (crashes, crash loops, terminate) and graceful stops (the simulation:
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

// ---- supervision --------------------------------------------------------------------------------

TEST(Election, CrashOnceRestartsInPlaceAfterTheBackoffWithTheSameTerm) {
    Sim sim(one_proc(), 1);
    sim.run_until(3000);
    ASSERT_EQ(sim.core(0).term(), 1);
    sim.die(0, "scheduler", "exited with status 1");
    sim.run_until(10000);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    SCOPED_TRACE(history(n0));
    EXPECT_TRUE(has_record(n0, "process_exited"));
    EXPECT_TRUE(has_record(n0, "restart_scheduled"));
    const auto starts = actions_of<act::start_process>(n0);
    ASSERT_EQ(starts.size(), 2u);
    EXPECT_EQ(starts[1].first, 3000 + sim.cfg().restart_backoff_initial.count());
    EXPECT_EQ(starts[1].second.term, 1);
    EXPECT_EQ(count_of<act::try_acquire>(n0, 1), 0u);
    EXPECT_EQ(count_of<act::release>(n0), 0u);
    EXPECT_EQ(count_of<act::stop_process>(n0) + count_of<act::kill_process>(n0), 0u);
    EXPECT_EQ(sim.lease.term, 1);
    EXPECT_EQ(sim.core(0).process_state("scheduler"), ProcState::running);
}

TEST(Election, CrashLoopStopsReleasesAndRespectsTheCooldown) {
    Sim sim(config_with({{"scheduler", 1000ms}, {"triggerer", 1000ms}}), 2);
    sim.node(1).wakeup = 100;
    sim.node(0).crash_after["scheduler"] = 10;
    sim.node(0).sigterm_delay["triggerer"] = 200;
    sim.run_until(30000);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    SCOPED_TRACE(history(n0));

    // Five starts of the scheduler in term 1 with doubling back-off, then the hand-over.
    std::vector<long long> sched_starts;
    for (const auto& [t, s] : actions_of<act::start_process>(n0))
        if (s.name == "scheduler") {
            sched_starts.push_back(t);
            EXPECT_EQ(s.term, 1);
        }
    ASSERT_EQ(sched_starts.size(), 5u);
    for (std::size_t k = 1; k < sched_starts.size(); ++k)
        EXPECT_EQ(sched_starts[k] - (sched_starts[k - 1] + 10),
                  500LL << (k - 1));  // 500, 1000, 2000, 4000
    const long long fifth_crash = sched_starts.back() + 10;
    EXPECT_TRUE(has_record(n0, "crash_loop"));

    // The healthy process is stopped at the crash-loop step, then the lease is released.
    const auto stops = actions_of<act::stop_process>(n0);
    ASSERT_EQ(stops.size(), 1u);
    EXPECT_EQ(stops[0].second.name, "triggerer");
    EXPECT_EQ(stops[0].first, fifth_crash);
    const auto rel = actions_of<act::release>(n0);
    ASSERT_EQ(rel.size(), 1u);
    EXPECT_EQ(rel[0].first, fifth_crash + 200);
    EXPECT_EQ(rel[0].second.term, 1);
    EXPECT_EQ(count_of<act::kill_process>(n0), 0u);

    // node-1 takes over right after the release.
    const auto wins = actions_of<act::start_process>(sim.node(1));
    ASSERT_FALSE(wins.empty());
    EXPECT_GE(wins[0].first, rel[0].first);
    EXPECT_LE(wins[0].first, rel[0].first + sim.cfg().poll_interval.count());
    EXPECT_EQ(wins[0].second.term, 2);

    // node-0 does not ask for the lease again before the cooldown has passed.
    const auto tries = actions_of<act::try_acquire>(n0, fifth_crash);
    ASSERT_FALSE(tries.empty());
    EXPECT_GE(tries[0].first, fifth_crash + sim.cfg().handover_cooldown.count());
    EXPECT_EQ(sim.core(0).role(), Role::standby);
    sim.expect_no_overlap();
}

TEST(Election, SingleNodeCrashLoopWaitsForTheCooldownThenTriesAgain) {
    Sim sim(one_proc(), 1);
    sim.node(0).crash_after["scheduler"] = 10;
    sim.run_until(40000);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    SCOPED_TRACE(history(n0));
    const auto rel = actions_of<act::release>(n0);
    ASSERT_FALSE(rel.empty());
    const auto tries = actions_of<act::try_acquire>(n0, rel[0].first);
    ASSERT_FALSE(tries.empty());
    EXPECT_GE(tries[0].first, rel[0].first + sim.cfg().handover_cooldown.count());
    // The next term starts with a clean crash count: five more starts before the next hand-over.
    std::size_t term2 = 0;
    for (const auto& [t, s] : actions_of<act::start_process>(n0))
        term2 += s.term == 2 ? 1u : 0u;
    EXPECT_EQ(term2, 5u);
}

TEST(Election, TerminateRequestKillsAndHandsOver) {
    Sim sim(one_proc(), 2);
    sim.node(1).wakeup = 100;
    sim.run_until(2000);
    const Ready r = sim.step(0, ev::process_terminate{"scheduler", "dashboard"});
    ASSERT_FALSE(r.actions.empty());
    EXPECT_TRUE(std::holds_alternative<act::kill_process>(r.actions[0]));
    sim.run_until(10000);
    ASSERT_EQ(sim.failures(), 0);
    EXPECT_EQ(count_of<act::release>(sim.node(0)), 1u);
    EXPECT_EQ(sim.core(1).role(), Role::active);
    EXPECT_EQ(sim.core(1).term(), 2);
    const auto tries = actions_of<act::try_acquire>(sim.node(0), 2000);
    ASSERT_FALSE(tries.empty());
    EXPECT_GE(tries[0].first, 2000 + sim.cfg().handover_cooldown.count());
    sim.expect_no_overlap();
}

// ---- graceful stop ------------------------------------------------------------------------------

TEST(Election, GracefulStopWhileActiveRenewsUntilExitThenReleasesThenExits) {
    Sim sim(config_with({{"scheduler", 5000ms}}), 2);
    sim.node(1).wakeup = 100;
    sim.node(0).sigterm_delay["scheduler"] = 1200;
    sim.run_until(2000);
    ASSERT_EQ(sim.core(0).role(), Role::active);
    const Ready r = sim.step(0, ev::stop_requested{"SIGTERM"});
    ASSERT_EQ(sim.core(0).role(), Role::stopping);
    EXPECT_EQ(
        std::count_if(r.actions.begin(), r.actions.end(),
                      [](const Action& a) { return std::holds_alternative<act::stop_process>(a); }),
        1);
    sim.run_until(10000);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    SCOPED_TRACE(history(n0));

    const long long exit_at = 2000 + 1200;
    ASSERT_EQ(sim.intervals.size(), 1u);
    EXPECT_EQ(sim.intervals[0].end, exit_at);
    EXPECT_EQ(count_of<act::kill_process>(n0), 0u);
    // Renewals go on while the process stops.
    EXPECT_GE(count_of<act::renew>(n0, 2001, exit_at), 2u);
    // Release only after the exit, then the exit action in the step of the release's answer.
    const auto rel = actions_of<act::release>(n0);
    ASSERT_EQ(rel.size(), 1u);
    EXPECT_EQ(rel[0].first, exit_at);
    EXPECT_EQ(rel[0].second.term, 1);
    const auto dis = actions_of<act::disarm_guard>(n0);
    ASSERT_EQ(dis.size(), 1u);
    EXPECT_EQ(dis[0].first, exit_at);
    const auto exits = actions_of<act::exit>(n0);
    ASSERT_EQ(exits.size(), 1u);
    EXPECT_EQ(exits[0].first, exit_at);
    EXPECT_EQ(exits[0].second.code, 0);
    EXPECT_TRUE(std::holds_alternative<act::exit>(n0.actions.back().a));
    const auto exit_step = std::find_if(n0.steps.begin(), n0.steps.end(), [](const StepLog& s) {
        return std::any_of(s.actions.begin(), s.actions.end(),
                           [](const Action& a) { return std::holds_alternative<act::exit>(a); });
    });
    ASSERT_NE(exit_step, n0.steps.end());
    EXPECT_TRUE(std::holds_alternative<ev::release_result>(exit_step->e));
    EXPECT_EQ(sim.core(0).role(), Role::stopped);

    // The standby takes over within one poll of the release.
    const auto wins = actions_of<act::start_process>(sim.node(1));
    ASSERT_EQ(wins.size(), 1u);
    EXPECT_GE(wins[0].first, exit_at);
    EXPECT_LE(wins[0].first, exit_at + sim.cfg().poll_interval.count());
    EXPECT_EQ(wins[0].second.term, 2);
    sim.expect_no_overlap();
}

TEST(Election, GracefulStopWithALeaseHintHandsOverAtOnce) {
    Sim sim(one_proc(), 2);
    sim.hints = true;
    sim.node(1).wakeup = 100;
    sim.run_until(2000);
    sim.step(0, ev::stop_requested{"SIGTERM"});
    sim.run_until(10000);
    ASSERT_EQ(sim.failures(), 0);
    const auto rel = actions_of<act::release>(sim.node(0));
    ASSERT_EQ(rel.size(), 1u);
    const auto wins = actions_of<act::start_process>(sim.node(1));
    ASSERT_EQ(wins.size(), 1u);
    EXPECT_EQ(wins[0].first, rel[0].first);
}

TEST(Election, StopWhileStandbyExitsAtOnce) {
    Sim sim(one_proc(), 2);
    sim.node(1).wakeup = 100;
    sim.run_until(2000);
    ASSERT_EQ(sim.core(1).role(), Role::standby);
    const Ready r = sim.step(1, ev::stop_requested{"SIGTERM"});
    ASSERT_FALSE(r.actions.empty());
    EXPECT_TRUE(std::holds_alternative<act::exit>(r.actions.back()));
    for (const Action& a : r.actions)
        EXPECT_TRUE(std::holds_alternative<act::exit>(a) || std::holds_alternative<act::record>(a))
            << describe(a);
    EXPECT_EQ(r.next_wakeup, TimePoint::max());
    EXPECT_EQ(sim.core(1).role(), Role::stopped);
    // After the exit the core is inert.
    EXPECT_TRUE(sim.core(1).step(ev::tick{}, at(2500)).actions.empty());
    EXPECT_TRUE(sim.core(1).step(ev::lease_hint{}, at(2600)).actions.empty());
    sim.run_until(5000);
    EXPECT_EQ(sim.core(0).role(), Role::active);
    EXPECT_EQ(count_of<act::try_acquire>(sim.node(1), 2000), 0u);
}

// Regression (fixed; src/core/election.cpp, reconcile(), lines 443-447, and on(acquire_result),
// lines 153-157): a standby that gets stop_requested while its try_acquire is still in flight exits
// at once. If that acquire wins, the reply arrives at an exited core that ignores everything, so
// the "give it straight back" branch in on(acquire_result) can never run and the won lease stays
// held by a dead node until its TTL runs out: a hand-over delay of a whole TTL (liveness only,
// no safety issue). Expected: the core waits for the acquire reply (at most poll_interval) before
// exiting and releases a won lease; actual: exit{0} at once and the won lease is never released.
TEST(Election, StopWhileAnAcquireIsInFlightGivesAWonLeaseBack) {
    Election e(one_proc(), "node-0");
    const Ready first = e.step(ev::tick{}, at(0));
    ASSERT_FALSE(first.actions.empty());
    ASSERT_TRUE(std::holds_alternative<act::try_acquire>(first.actions[0]));
    e.step(ev::stop_requested{"SIGTERM"}, at(10));
    ev::acquire_result won;
    won.won = true;
    won.term = 1;
    won.holder = "node-0";
    won.sent_at = at(0);
    const Ready r = e.step(won, at(20));
    bool released = false;
    for (const Action& a : r.actions)
        if (const auto* rel = std::get_if<act::release>(&a))
            released = rel->term == 1;
    EXPECT_TRUE(released) << "a lease won during shutdown is never released";
}

// Regression (fixed; src/core/election.cpp, reconcile_processes(), lines 477-482): on a graceful
// stop the SIGKILL time is fixed when the stop starts as min(now + stop_timeout, lease_deadline -
// kill_grace) with the lease deadline of that moment, and it is never recomputed although renewals
// go on while the processes stop. So a process with stop_timeout 10000 ms is SIGKILLed about 2.6 s
// after SIGTERM even though every renewal succeeds. The issue asks for "SIGKILL after the stop
// timeout or earlier if the deadline demands" (and enforce_deadline() already kills at the real
// deadline if renewals fail). Expected: with healthy renewals a process that needs 6 s to stop is
// not killed; actual: kill_process at stop + 2600 ms.
TEST(Election, GracefulStopHonoursTheStopTimeoutWhileRenewalsSucceed) {
    Sim sim(config_with({{"scheduler", 10000ms}}), 1);
    sim.node(0).sigterm_delay["scheduler"] = 6000;
    sim.run_until(2000);
    sim.step(0, ev::stop_requested{"SIGTERM"});
    sim.run_until(20000);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    EXPECT_EQ(count_of<act::kill_process>(n0), 0u) << history(n0);
    ASSERT_EQ(sim.intervals.size(), 1u);
    EXPECT_EQ(sim.intervals[0].end, 2000 + 6000);
}

}  // namespace
