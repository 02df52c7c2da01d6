// Daemon-level tests: the real Daemon on the fakes (tests/unit/fakes), on simulated time: no
// PostgreSQL, no processes. The faults of tests/integration/test_failover.py, checked by
// behaviour and by the invariant that two copies of the scheduler never work at once.
#include <gtest/gtest.h>

#include "fakes/sim_cluster.hpp"

namespace {

using af::Duration;
using af::TimePoint;
using af::core::Role;
using af::fakes::SimCluster;
using af::fakes::SimNode;

/// n1 active and serving, n2 a standby that has seen it.
void two_nodes(SimCluster& c) {
    c.add("n1").start();
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &c["n1"]; }));
    c.add("n2").start();
    c.clock.run_for(Duration{2000});
    ASSERT_EQ(c["n2"].role(), Role::standby);
    ASSERT_EQ(c.serving(), &c["n1"]);
}

TEST(DaemonFailover, ThreeNodesStartingAtOnceElectOne) {
    SimCluster c;
    for (const char* id : {"n1", "n2", "n3"})
        c.add(id).start();
    ASSERT_TRUE(c.run_until([&] { return c.serving() != nullptr; }));
    c.clock.run_for(Duration{5000});
    int active = 0;
    for (auto& [id, n] : c.nodes)
        active += n->active() ? 1 : 0;
    EXPECT_EQ(active, 1);
    EXPECT_EQ(c.db.won_terms.size(), 1u);
    EXPECT_EQ(c.world.overlaps, 0);
}

TEST(DaemonFailover, StandbyTakesOverWhenTheActiveDaemonIsKilled) {
    SimCluster c;
    two_nodes(c);
    const std::int64_t old_term = c.db.term;
    c["n1"].kill_daemon(c.db);  // its guard kills the scheduler and releases the lease
    EXPECT_FALSE(c["n1"].processes.alive("scheduler"));
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &c["n2"]; }));
    EXPECT_GT(c.db.term, old_term);
    EXPECT_EQ(c.world.overlaps, 0);
}

TEST(DaemonFailover, HostLossWaitsForTheLeaseToExpire) {
    SimCluster c;
    two_nodes(c);
    // Daemon, guard and scheduler gone at once: nobody releases.
    c["n1"].guard.disarm();
    c["n1"].processes.kill_all_now();
    c["n1"].kill_daemon(c.db);
    const TimePoint expires = c.db.expires;
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &c["n2"]; }));
    EXPECT_GE(c.clock.now(), expires) << "took over a lease that had not expired";
    EXPECT_EQ(c.world.overlaps, 0);
}

TEST(DaemonFailover, SigtermStopsTheSchedulerReleasesAndExits) {
    SimCluster c;
    two_nodes(c);
    SimNode& n1 = c["n1"];
    n1.daemon->stop_requested("SIGTERM");
    ASSERT_TRUE(c.run_until([&] { return n1.daemon->done(); }));
    EXPECT_EQ(n1.daemon->exit_code(), 0);
    EXPECT_FALSE(n1.processes.alive("scheduler"));
    EXPECT_EQ(n1.processes.proc("scheduler").kills, 0) << "a graceful stop needed a SIGKILL";
    EXPECT_TRUE(n1.noted("STOPPING=1"));
    EXPECT_TRUE(n1.guard.shut_down);
    EXPECT_FALSE(n1.guard.armed);
    EXPECT_TRUE(n1.store.stopped());
    EXPECT_EQ(n1.store.last_row.role, "stopped");
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &c["n2"]; }));
    EXPECT_EQ(c.world.overlaps, 0);
}

TEST(DaemonFailover, RefusedRenewalStopsTheSchedulerAndTheStandbyTakesOver) {
    SimCluster c;
    two_nodes(c);
    SimNode& n1 = c["n1"];
    n1.store.refuse_renewals = true;  // the compare-and-set fails: the lease is not ours
    ASSERT_TRUE(c.run_until([&] { return !n1.processes.alive("scheduler"); }));
    EXPECT_NE(n1.role(), Role::active);
    EXPECT_TRUE(c.db.has_event("n1", "lease_lost"));
    n1.store.refuse_renewals = false;
    ASSERT_TRUE(c.run_until([&] { return c.serving() != nullptr; }));
    EXPECT_EQ(c.world.overlaps, 0);
}

TEST(DaemonFailover, HungRenewalsFenceBeforeTheLeaseExpiresOnTheDatabase) {
    SimCluster c;
    two_nodes(c);
    SimNode& n1 = c["n1"];
    n1.store.mode = af::fakes::FakeLeaseStore::Mode::hang;
    // The lease on the database runs out one TTL after the last renewal that reached it; the
    // scheduler must be dead by then, whatever the timers did.
    ASSERT_TRUE(c.run_until([&] { return !n1.processes.alive("scheduler"); }));
    EXPECT_LE(c.clock.now(), c.db.expires);
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &c["n2"]; }));
    EXPECT_EQ(c.world.overlaps, 0);
}

TEST(DaemonFailover, ALateRenewalFreezesTheSchedulerAndItsArrivalThawsIt) {
    SimCluster c;
    two_nodes(c);
    SimNode& n1 = c["n1"];
    const std::int64_t term = c.db.term;
    // With one renewal in flight at a time, the last confirmed one is up to two latencies old:
    // past the freeze point (fence_lead before the deadline), not at the deadline.
    n1.store.latency = n1.daemon->config().election().fence_lead() * 3 / 4;
    ASSERT_TRUE(c.run_until([&] { return n1.processes.proc("scheduler").frozen; }));
    n1.store.latency = Duration{2};
    ASSERT_TRUE(c.run_until([&] { return !n1.processes.proc("scheduler").frozen; }));
    c.clock.run_for(Duration{3000});
    const auto& p = n1.processes.proc("scheduler");
    EXPECT_TRUE(p.alive);
    EXPECT_EQ(p.starts, 1);
    EXPECT_EQ(p.kills, 0);
    EXPECT_EQ(c.db.term, term);
    EXPECT_TRUE(c.db.has_event("n1", "processes_frozen"));
    EXPECT_TRUE(c.db.has_event("n1", "processes_thawed"));
    EXPECT_EQ(c.serving(), &n1);
    EXPECT_EQ(c.world.overlaps, 0);
}

TEST(DaemonFailover, DatabaseDownFencesAndReportsIt) {
    SimCluster c;
    c.add("n1").start();
    ASSERT_TRUE(c.run_until([&] { return c.serving() != nullptr; }));
    SimNode& n1 = c["n1"];
    n1.store.mode = af::fakes::FakeLeaseStore::Mode::down;
    ASSERT_TRUE(c.run_until([&] { return !n1.processes.alive("scheduler"); }));
    EXPECT_LE(c.clock.now(), c.db.expires);
    c.clock.run_for(Duration{1000});
    EXPECT_EQ(n1.daemon->status().words, "standby; database unreachable, cannot become active");
    n1.store.mode = af::fakes::FakeLeaseStore::Mode::up;
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &n1; }));
}

TEST(DaemonFailover, CrashLoopHandsTheLeaseOver) {
    SimCluster c;
    two_nodes(c);
    SimNode& n1 = c["n1"];
    const int limit = n1.daemon->config().supervision.crash_loop_limit;
    // Crash the scheduler each time it is back, until n1 gives the lease up.
    ASSERT_TRUE(c.run_until(
        [&] {
            if (n1.active() && n1.processes.alive("scheduler"))
                n1.processes.crash("scheduler");
            return c.serving() == &c["n2"];
        },
        Duration{120000}));
    EXPECT_GE(n1.processes.proc("scheduler").starts, limit);
    EXPECT_TRUE(c.db.has_event("n1", "crash_loop"));
    EXPECT_EQ(c.world.overlaps, 0);
}

TEST(DaemonFailover, OneCrashRestartsInPlace) {
    SimCluster c;
    two_nodes(c);
    SimNode& n1 = c["n1"];
    const std::int64_t term = c.db.term;
    n1.processes.crash("scheduler");
    ASSERT_TRUE(c.run_until([&] { return n1.processes.alive("scheduler"); }));
    EXPECT_EQ(n1.processes.proc("scheduler").starts, 2);
    EXPECT_EQ(c.db.term, term);
    EXPECT_TRUE(n1.active());
}

}  // namespace
