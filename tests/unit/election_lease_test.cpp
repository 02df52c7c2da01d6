// Election tests: a simultaneous start, a silent active, a lost lease, failing renewals (the
// simulation: election_sim.hpp).
#include "election_sim.hpp"
#include "ready_actions.hpp"

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

// ---- simultaneous start -----------------------------------------------------------------------

class SimultaneousStart : public ::testing::TestWithParam<std::tuple<int, std::uint32_t>> {};

TEST_P(SimultaneousStart, ExactlyOneActiveInTermOne) {
    const auto [n, seed] = GetParam();
    Sim sim(one_proc(), n, seed);
    if (seed != 0) {  // seed 0: zero latency; others: a little network jitter
        sim.faults.on = true;
        sim.faults.max_delay = 40;
    }
    sim.run_until(20000);
    ASSERT_EQ(sim.failures(), 0);
    int active = -1;
    for (int i = 0; i < n; ++i) {
        const SimNode& node = sim.node(i);
        SCOPED_TRACE(node.id + "\n" + history(node));
        EXPECT_GE(count_of<act::try_acquire>(node), 1u);
        if (sim.core(i).role() == Role::active) {
            EXPECT_EQ(active, -1) << "two active nodes";
            active = i;
            EXPECT_EQ(sim.core(i).term(), 1);
            EXPECT_EQ(sim.core(i).process_state("scheduler"), ProcState::running);
            EXPECT_EQ(count_of<act::start_process>(node), 1u);
        } else {
            EXPECT_EQ(sim.core(i).role(), Role::standby);
            EXPECT_EQ(sim.core(i).term(), 0);
            EXPECT_FALSE(sim.core(i).any_process_alive());
            EXPECT_EQ(count_of<act::start_process>(node), 0u);
            EXPECT_EQ(count_of<act::renew>(node), 0u);
            // A standby keeps asking.
            EXPECT_GE(count_of<act::try_acquire>(node), 10u);
        }
    }
    ASSERT_NE(active, -1) << "no active node";
    EXPECT_EQ(sim.lease.term, 1);
    EXPECT_EQ(sim.lease.holder, sim.node(active).id);
    EXPECT_TRUE(sim.intervals.empty());  // nothing was ever stopped
    sim.expect_no_overlap();
}

INSTANTIATE_TEST_SUITE_P(TwoAndThreeNodes, SimultaneousStart,
                         ::testing::Combine(::testing::Values(2, 3),
                                            ::testing::Values(0u, 1u, 2u, 3u, 4u, 5u)));

// ---- the active goes silent -------------------------------------------------------------------

TEST(Election, StandbyTakesOverOnlyAfterTheDbExpiryOfAPausedActive) {
    Sim sim(one_proc(), 2);
    sim.node(1).wakeup = 1000;  // node-1 starts later, so node-0 is active
    sim.run_until(5000);
    ASSERT_EQ(sim.core(0).role(), Role::active);
    ASSERT_EQ(sim.core(1).role(), Role::standby);
    const long long db_expiry = sim.lease.expires_at;
    ASSERT_TRUE(sim.node(0).guard.has_value());
    const long long guard_deadline = sim.node(0).guard->second;
    // The local deadline lies the fence margin before the database's expiry (zero latency here).
    EXPECT_EQ(guard_deadline, db_expiry - sim.cfg().fence_margin.count());

    sim.node(0).paused = true;  // SIGSTOP: no steps, no renewals
    sim.run_until(20000);
    ASSERT_EQ(sim.failures(), 0);

    // The guard killed node-0's process at the armed deadline, before the database expiry.
    ASSERT_EQ(sim.intervals.size(), 1u);
    EXPECT_EQ(sim.intervals[0].node, 0);
    EXPECT_EQ(sim.intervals[0].end, guard_deadline);
    EXPECT_LT(sim.intervals[0].end, db_expiry);
    EXPECT_EQ(sim.guard_kills, 1);

    // node-1 won only once the database lease had expired, and then promptly.
    const auto wins = actions_of<act::start_process>(sim.node(1));
    ASSERT_EQ(wins.size(), 1u) << history(sim.node(1));
    EXPECT_GE(wins[0].first, db_expiry);
    EXPECT_LE(wins[0].first, db_expiry + 10);
    EXPECT_EQ(wins[0].second.term, 2);

    // SIGCONT: the first thing node-0 does is kill, then it steps down without disturbing node-1.
    const std::size_t k = sim.node(0).actions.size();
    sim.node(0).paused = false;
    sim.run_until(30000);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    ASSERT_GT(n0.actions.size(), k);
    EXPECT_TRUE(std::holds_alternative<act::kill_process>(n0.actions[k].a))
        << "first action after the pause: " << describe(n0.actions[k].a);
    EXPECT_EQ(sim.core(0).role(), Role::standby);
    EXPECT_EQ(sim.core(0).term(), 0);
    EXPECT_EQ(count_of<act::start_process>(n0, 20000), 0u);
    EXPECT_EQ(sim.core(1).role(), Role::active);
    EXPECT_EQ(sim.lease.holder, sim.node(1).id);
    EXPECT_EQ(sim.lease.term, 2);
    sim.expect_no_overlap();
}

TEST(Election, ActiveCutOffFromTheDbKillsBeforeItsDbLeaseExpires) {
    Sim sim(one_proc(), 2);
    sim.node(1).wakeup = 1000;
    sim.node(0).sigterm_delay["scheduler"] = -1;  // ignores SIGTERM: only a kill ends it
    sim.run_until(5000);
    ASSERT_EQ(sim.core(0).role(), Role::active);
    const long long db_expiry = sim.lease.expires_at;
    const long long deadline = sim.node(0).guard->second;
    ASSERT_EQ(at(deadline), sim.core(0).lease_deadline());

    sim.node(0).db = Db::drop;  // its statements never reach the database
    sim.run_until(20000);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    SCOPED_TRACE(history(n0));
    const auto kills = actions_of<act::kill_process>(n0);
    ASSERT_EQ(kills.size(), 1u);
    EXPECT_EQ(kills[0].first, deadline - sim.cfg().kill_grace.count());
    EXPECT_LT(kills[0].first, db_expiry);
    ASSERT_EQ(sim.intervals.size(), 1u);
    EXPECT_LT(sim.intervals[0].end, db_expiry);
    EXPECT_EQ(sim.guard_kills, 0);
    EXPECT_TRUE(has_record(n0, "fenced"));

    const auto wins = actions_of<act::start_process>(sim.node(1));
    ASSERT_EQ(wins.size(), 1u);
    EXPECT_GE(wins[0].first, db_expiry);
    EXPECT_EQ(wins[0].second.term, 2);
    EXPECT_EQ(sim.core(0).role(), Role::standby);
    sim.expect_no_overlap();
}

TEST(Election, LateRenewReplyExtendsFromItsSendTimeNotItsArrival) {
    Sim sim(one_proc(), 2);
    sim.node(1).wakeup = 1000;
    sim.node(0).sigterm_delay["scheduler"] = -1;
    sim.run_until(2010);
    // The next renewal runs in the database at once, but its reply takes a second to arrive;
    // then the node is cut off.
    sim.node(0).reply_delay = 1000;
    sim.run_until(2600);
    sim.node(0).db = Db::drop;
    sim.run_until(4000);
    ASSERT_EQ(sim.lease.expires_at, 2500 + 3000);
    const long long db_expiry = sim.lease.expires_at;
    // The reply arrived at 3500 and extended the deadline from the send time, 2500.
    EXPECT_EQ(sim.core(0).lease_deadline(), at(2500 + 3000 - 300));
    sim.run_until(20000);
    ASSERT_EQ(sim.failures(), 0);
    ASSERT_EQ(sim.intervals.size(), 1u);
    EXPECT_LT(sim.intervals[0].end, db_expiry);
    const auto wins = actions_of<act::start_process>(sim.node(1));
    ASSERT_EQ(wins.size(), 1u);
    EXPECT_GE(wins[0].first, db_expiry);
    sim.expect_no_overlap();
}

// ---- lease lost ---------------------------------------------------------------------------------

TEST(Election, LeaseLostKillsAtOnceWithoutReleaseThenStandby) {
    Sim sim(config_with({{"scheduler", 5000ms}, {"triggerer", 5000ms}}), 1);
    sim.run_until(2010);
    ASSERT_EQ(sim.core(0).role(), Role::active);
    ASSERT_EQ(sim.core(0).term(), 1);
    // Someone else holds the row now (as if our lease had expired unnoticed and been taken):
    // the next renewal's compare-and-set fails. The model cannot reach this state by itself.
    sim.check_db = false;
    sim.lease.holder = "intruder";
    sim.lease.term = 2;
    sim.lease.expires_at = sim.now + 3000;
    sim.run_until(20000);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    SCOPED_TRACE(history(n0));

    // The step that heard the refusal kills both processes before doing anything else (only
    // the lease_lost record may come first).
    const auto it = std::find_if(n0.steps.begin(), n0.steps.end(), [](const StepLog& s) {
        const auto* r = std::get_if<ev::renew_result>(&s.e);
        return r && !r->ok;
    });
    ASSERT_NE(it, n0.steps.end());
    EXPECT_EQ(it->t, 2500);
    std::vector<std::string> effects;  // actions of that step other than records
    for (const Action& a : it->actions)
        if (!std::holds_alternative<act::record>(a))
            effects.push_back(describe(a));
    ASSERT_GE(effects.size(), 2u);
    EXPECT_EQ(effects[0], "kill(scheduler)");
    EXPECT_EQ(effects[1], "kill(triggerer)");
    EXPECT_EQ(count_of<act::kill_process>(n0), 2u);
    EXPECT_EQ(count_of<act::stop_process>(n0), 0u);
    EXPECT_EQ(count_of<act::release>(n0), 0u) << "released a lease that is not ours";
    EXPECT_TRUE(has_record(n0, "lease_lost"));
    for (const Interval& iv : sim.intervals)
        EXPECT_EQ(iv.end, 2500);
    EXPECT_EQ(count_of<act::disarm_guard>(n0), 1u);
    EXPECT_EQ(count_of<act::renew>(n0, 2501, 5000), 0u);

    // Standby afterwards, polling; it wins term 3 once the intruder's lease has expired.
    EXPECT_GE(count_of<act::try_acquire>(n0, 2500, 5000), 1u);
    EXPECT_EQ(count_of<act::start_process>(n0, 2500, 5009), 0u);
    const auto starts = actions_of<act::start_process>(n0, 2501);
    ASSERT_EQ(starts.size(), 2u);
    EXPECT_GE(starts[0].first, 5010);
    EXPECT_EQ(starts[0].second.term, 3);
    EXPECT_EQ(sim.core(0).role(), Role::active);
}

// ---- renewals fail ------------------------------------------------------------------------------

class RenewFailure : public ::testing::TestWithParam<Db> {
  protected:
    struct Fence {
        long long deadline;  ///< of the renewal sent at 5000, the last good one
        long long fence_at;  ///< where renewals failing until then freeze the processes
    };
    /// Runs `sim` (node-0 active) to 5010, then the database fails it as the parameter says.
    static Fence fail_after_5010(Sim& sim) {
        sim.run_until(5010);
        const long long deadline = ms_of(sim.core(0).lease_deadline());
        sim.node(0).db = GetParam();
        return {deadline, deadline - sim.cfg().fence_lead().count()};
    }
    /// The database answers again from `t` on; runs to 20000.
    static void recover_at(Sim& sim, long long t) {
        sim.run_until(t);
        sim.node(0).db = Db::answer;
        sim.run_until(20000);
    }
};

TEST_P(RenewFailure, FreezeAtFenceLeadKillAtKillGraceNothingAfterTheDeadline) {
    Sim sim(config_with({{"scheduler", 500ms}, {"triggerer", 500ms}}), 1);
    // Half of what the margin leaves, whatever the stop timeouts: nothing is stopped gracefully.
    ASSERT_EQ(sim.cfg().fence_lead(), 1350ms);
    sim.node(0).sigterm_delay["scheduler"] = -1;  // would ignore SIGTERM
    sim.node(0).sigterm_delay["triggerer"] = 50;  // would stop gracefully
    sim.run_until(5010);
    ASSERT_EQ(sim.core(0).role(), Role::active);
    const long long db_expiry = sim.lease.expires_at;
    const long long deadline = ms_of(sim.core(0).lease_deadline());
    ASSERT_EQ(deadline, 5000 + 3000 - 300);  // last good renewal sent at 5000
    sim.node(0).db = GetParam();
    sim.run_until(12000);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    SCOPED_TRACE(history(n0));

    // Renewals kept being tried until the deadline.
    EXPECT_GE(count_of<act::renew>(n0, 5011, deadline), 3u);
    EXPECT_TRUE(has_record(n0, "renew_failing"));
    // SIGSTOP at deadline - fence_lead, to both; no SIGTERM, no SIGCONT.
    const auto freezes = actions_of<act::freeze_process>(n0);
    ASSERT_EQ(freezes.size(), 2u);
    for (const auto& [t, f] : freezes)
        EXPECT_EQ(t, deadline - sim.cfg().fence_lead().count()) << f.name;
    EXPECT_TRUE(has_record(n0, "processes_frozen"));
    EXPECT_EQ(count_of<act::stop_process>(n0), 0u);
    EXPECT_EQ(count_of<act::thaw_process>(n0), 0u);
    // SIGKILL at deadline - kill_grace to both: a frozen process does not stop by itself.
    const auto kills = actions_of<act::kill_process>(n0);
    ASSERT_EQ(kills.size(), 2u);
    for (const auto& [t, k] : kills)
        EXPECT_EQ(t, deadline - sim.cfg().kill_grace.count()) << k.name;
    // Nothing process-related at or after the deadline; all were dead before it.
    EXPECT_EQ(count_of<act::kill_process>(n0, deadline), 0u);
    EXPECT_EQ(count_of<act::start_process>(n0, 5011), 0u);
    ASSERT_EQ(sim.intervals.size(), 2u);
    for (const Interval& iv : sim.intervals) {
        EXPECT_LT(iv.end, deadline) << iv.name;
        EXPECT_LT(iv.end, db_expiry) << iv.name;
    }
    EXPECT_EQ(sim.guard_kills, 0);
    // The term is given up after the deadline: release (lost or failed), then standby.
    const auto rel = actions_of<act::release>(n0);
    ASSERT_EQ(rel.size(), 1u);
    EXPECT_GE(rel[0].first, deadline);
    EXPECT_EQ(rel[0].second.term, 1);
    EXPECT_EQ(sim.core(0).role(), Role::standby);
    EXPECT_EQ(sim.core(0).term(), 0);

    // The database comes back: the node wins a new term after the old expiry and starts again.
    sim.node(0).db = Db::answer;
    sim.run_until(20000);
    ASSERT_EQ(sim.failures(), 0);
    const auto starts = actions_of<act::start_process>(n0, 12000);
    ASSERT_EQ(starts.size(), 2u);
    EXPECT_EQ(starts[0].second.term, 2);
    EXPECT_GE(starts[0].first, db_expiry);
    sim.expect_no_overlap();
}

TEST_P(RenewFailure, RecoveryBeforeTheFencePointStopsNothing) {
    Sim sim(one_proc(), 1);
    const Fence f = fail_after_5010(sim);
    // Renewals go out every 500 ms: the one sent at 6000 is the last before the fence point.
    recover_at(sim, f.fence_at - 360);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    SCOPED_TRACE(history(n0));
    EXPECT_TRUE(has_record(n0, "renew_failing"));
    EXPECT_EQ(count_of<act::freeze_process>(n0), 0u);
    EXPECT_EQ(count_of<act::stop_process>(n0), 0u);
    EXPECT_EQ(count_of<act::kill_process>(n0), 0u);
    EXPECT_EQ(count_of<act::start_process>(n0), 1u);
    EXPECT_EQ(count_of<act::release>(n0), 0u);
    EXPECT_TRUE(has_record(n0, "renew_recovered"));
    EXPECT_EQ(sim.core(0).role(), Role::active);
    EXPECT_EQ(sim.core(0).term(), 1);
    EXPECT_GT(sim.core(0).lease_deadline(), at(19000));
}

// A renewal that arrives after the freeze but before the kill costs a pause, not a restart: the
// processes are thawed and go on in the same term (the chaos suite's "needless restarts").
TEST_P(RenewFailure, RecoveryAfterTheFreezeThawsAndRestartsNothing) {
    Sim sim(config_with({{"scheduler", 500ms}, {"triggerer", 500ms}}), 1);
    const auto [deadline, fence_at] = fail_after_5010(sim);
    recover_at(sim, deadline - 400);
    ASSERT_EQ(sim.failures(), 0);
    const SimNode& n0 = sim.node(0);
    SCOPED_TRACE(history(n0));
    const auto freezes = actions_of<act::freeze_process>(n0);
    const auto thaws = actions_of<act::thaw_process>(n0);
    ASSERT_EQ(freezes.size(), 2u);
    ASSERT_EQ(thaws.size(), 2u);
    for (const auto& [t, f] : freezes)
        EXPECT_EQ(t, fence_at) << f.name;
    for (const auto& [t, th] : thaws) {
        EXPECT_GT(t, deadline - 400) << th.name;
        EXPECT_LT(t, deadline - sim.cfg().kill_grace.count()) << th.name;
    }
    EXPECT_TRUE(has_record(n0, "processes_frozen"));
    EXPECT_TRUE(has_record(n0, "processes_thawed"));
    EXPECT_EQ(count_of<act::stop_process>(n0), 0u);
    EXPECT_EQ(count_of<act::kill_process>(n0), 0u);
    EXPECT_EQ(count_of<act::start_process>(n0), 2u);  // the two first starts, nothing since
    EXPECT_TRUE(sim.intervals.empty()) << "a process ended";
    EXPECT_EQ(sim.core(0).term(), 1);
    EXPECT_EQ(sim.core(0).process_state("scheduler"), ProcState::running);
}

// A stop that comes while the processes are frozen must reach them: SIGTERM, then SIGCONT so
// that they can act on it (a stopped process does not run its handler).
TEST_P(RenewFailure, AStopWhileFrozenSendsSigtermThenThaws) {
    Sim sim(config_with({{"scheduler", 500ms}}), 1);
    sim.node(0).sigterm_delay["scheduler"] = 50;
    const long long fence_at = fail_after_5010(sim).fence_at;
    sim.run_until(fence_at + 10);
    ASSERT_EQ(count_of<act::freeze_process>(sim.node(0)), 1u);
    const Ready r = sim.step(0, ev::stop_requested{"SIGTERM"});
    std::vector<std::string> order;
    for (const Action& a : r.actions)
        if (std::holds_alternative<act::stop_process>(a) ||
            std::holds_alternative<act::thaw_process>(a))
            order.push_back(describe(a));
    ASSERT_EQ(order.size(), 2u);
    EXPECT_EQ(order[0], "stop(scheduler)");
    EXPECT_EQ(order[1], "action#" + std::to_string(Action{act::thaw_process{}}.index()));
    sim.run_until(fence_at + 200);
    ASSERT_EQ(sim.failures(), 0);
    ASSERT_EQ(sim.intervals.size(), 1u);
    EXPECT_EQ(sim.intervals[0].end, fence_at + 10 + 50) << "the SIGTERM was not acted on";
}

TEST_P(RenewFailure, AHealthFailureWhileFrozenKillsNothing) {
    Sim sim(one_proc(), 1);
    sim.run_until(fail_after_5010(sim).fence_at + 10);
    const Ready r = sim.step(0, ev::process_unhealthy{"scheduler", "health check timed out"});
    EXPECT_TRUE(af::test::all<act::kill_process>(r).empty());
    EXPECT_TRUE(af::test::has_record(r, "health_ignored"));
    EXPECT_EQ(sim.core(0).process_state("scheduler"), ProcState::running);
}

INSTANTIATE_TEST_SUITE_P(NoAnswerAndDbFailure, RenewFailure, ::testing::Values(Db::drop, Db::fail),
                         [](const ::testing::TestParamInfo<Db>& p) {
                             return std::string(p.param == Db::drop ? "NoAnswer" : "DbFailure");
                         });

}  // namespace
