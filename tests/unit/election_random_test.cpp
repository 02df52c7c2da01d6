// Election tests: the long randomized simulation (the simulation: election_sim.hpp).
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

// ---- long randomized simulation ----------------------------------------------------------------

class RandomizedSimulation : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(RandomizedSimulation, NeverTwoNodesWithLiveProcessesAndTermsOnlyGrow) {
    const std::uint32_t seed = GetParam();
    std::mt19937 pick(seed * 7919u + 1u);
    ElectionConfig cfg = config_with({{"scheduler", 1000ms}, {"triggerer", 3000ms}});
    if (seed % 2 == 1) {  // tighter timings on odd seeds
        cfg.ttl = 1500ms;
        cfg.renew_interval = 300ms;
        cfg.fence_margin = 150ms;
        cfg.poll_interval = 300ms;
        cfg.kill_grace = 50ms;
        cfg.handover_cooldown = 3000ms;
    }
    const int n = 3 + static_cast<int>(seed % 3);  // 3..5 nodes
    Sim sim(cfg, n, seed);
    sim.hints = true;
    sim.restart_after_exit = true;
    Faults& f = sim.faults;
    f.on = true;
    f.max_delay = 30;
    f.p_slow = 0.05;
    f.slow_delay = cfg.ttl.count();
    f.p_drop_request = 0.03;
    f.p_drop_reply = 0.03;
    f.p_fail_before = 0.03;
    f.p_fail_after = 0.02;
    f.p_crash = seed % 4 == 0 ? 0.9 : 0.3;  // crash loops on some seeds
    f.crash_within = seed % 4 == 0 ? 1500 : 8000;
    f.p_pause = 0.004;
    f.pause_max = 3 * cfg.ttl.count();
    f.p_kill_daemon = 0.0005;
    f.p_graceful_restart = 0.0005;
    f.sigchld_max = 20;
    for (int i = 0; i < n; ++i)
        sim.node(i).wakeup = std::uniform_int_distribution<long long>(0, 300)(pick);

    const long long chaos_end = 240000;
    sim.chaos(chaos_end);
    sim.run_until(chaos_end);
    ASSERT_EQ(sim.failures(), 0);

    // Quiet period: no new faults; everything paused or down comes back.
    f = Faults{};
    for (int i = 0; i < n; ++i) {
        sim.node(i).paused = false;
        sim.restart(i);
    }
    sim.run_until(chaos_end + 40000);
    ASSERT_EQ(sim.failures(), 0);
    sim.expect_no_overlap();

    // Plenty happened: several terms, several failovers.
    std::set<int> active_nodes;
    for (const Interval& iv : sim.intervals)
        active_nodes.insert(iv.node);
    EXPECT_GE(sim.lease.term, 5);
    EXPECT_GE(active_nodes.size(), 2u);

    // Per node, the terms it started processes in never go back.
    for (int i = 0; i < n; ++i) {
        std::int64_t last = 0;
        for (const auto& [t, s] : actions_of<act::start_process>(sim.node(i))) {
            EXPECT_GE(s.term, last) << sim.node(i).id << " at " << t;
            last = s.term;
        }
    }

    // And afterwards exactly one node is active with all its processes running.
    int active = 0;
    for (int i = 0; i < n; ++i) {
        if (sim.core(i).role() != Role::active)
            continue;
        ++active;
        EXPECT_EQ(sim.lease.holder, sim.node(i).id);
        EXPECT_EQ(sim.core(i).term(), sim.lease.term);
        for (const auto& p : cfg.processes)
            EXPECT_TRUE(sim.node(i).procs[p.name].alive) << sim.node(i).id << " " << p.name;
    }
    EXPECT_EQ(active, 1);
}

INSTANTIATE_TEST_SUITE_P(Seeds, RandomizedSimulation, ::testing::Range(1u, 13u));

}  // namespace
