// Issue 15 item 3 at the shell level: the boot clock jumps past the fencing deadline, as after a
// suspend, with no timer firing in between. On wake the daemon's first act must be to kill
// its processes: before any renewal, start or anything else the fakes see.
#include <gtest/gtest.h>

#include <algorithm>

#include "fakes/sim_cluster.hpp"

namespace {

using af::Duration;
using af::fakes::SimCluster;

TEST(DaemonSuspend, AClockJumpPastTheDeadlineKillsFirst) {
    SimCluster c;
    auto& n1 = c.add("n1");
    n1.start();
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &n1; }));
    c.clock.run_for(Duration{1500});
    const auto deadline = n1.daemon->status().lease_deadline;
    const std::size_t before = c.world.trace.size();

    c.clock.jump(std::chrono::duration_cast<Duration>(deadline - c.clock.now()) + Duration{5000});
    c.clock.run_for(Duration{0});  // what fell due during the suspend runs now

    ASSERT_GT(c.world.trace.size(), before);
    EXPECT_EQ(c.world.trace[before], "n1 SIGKILL scheduler");
    EXPECT_FALSE(n1.processes.alive("scheduler"));
    EXPECT_TRUE(c.db.has_event("n1", "fenced"));
    // Afterwards the node may win a new term; its scheduler starts only in that one.
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &n1; }));
    EXPECT_GT(n1.processes.proc("scheduler").term, c.db.won_terms.front());
}

TEST(DaemonSuspend, AShortJumpWithinTheLeaseChangesNothing) {
    SimCluster c;
    auto& n1 = c.add("n1");
    n1.start();
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &n1; }));
    c.clock.run_for(Duration{1000});
    c.clock.jump(Duration{200});
    c.clock.run_for(Duration{3000});
    EXPECT_EQ(n1.processes.proc("scheduler").starts, 1);
    EXPECT_EQ(n1.processes.proc("scheduler").kills, 0);
    EXPECT_EQ(c.serving(), &n1);
}

}  // namespace
