// `airflow-failover restart PROCESS` in the pure election core (ev::process_restart), on a fake
// clock: the process is stopped gracefully and started again by the same node in the same term,
// with no crash counted and no hand-over; refused where it cannot be carried out.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "af/core/election.hpp"
#include "one_node.hpp"

namespace {

using namespace af;
using namespace af::core;
using namespace std::chrono_literals;
using af::test::all;
using af::test::t;

/// One node whose scheduler restarts count towards a crash loop of `crash_loop_limit`.
struct Node : af::test::OneNode {
    explicit Node(int crash_loop_limit = 3)
        : OneNode([&] {
              ElectionConfig c;
              c.processes = {{"scheduler", 500ms}};
              c.crash_loop_limit = crash_loop_limit;
              return c;
          }()) {}
};

TEST(RestartCommand, StopsGracefullyThenStartsAgainInTheSameTermWithoutACrash) {
    // crash_loop_limit 1: were the restart counted as a crash, the first one would hand over.
    Node n(1);
    n.become_active();
    n.run_for(1000);
    ASSERT_EQ(n.core.role(), Role::active);
    Ready r = n.step(ev::process_restart{"scheduler", "cli:ops@host as op", 5});
    ASSERT_EQ(all<act::stop_process>(r).size(), 1u);  // SIGTERM first, not a kill
    EXPECT_TRUE(all<act::kill_process>(r).empty());
    const auto done = all<act::command_done>(r);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].id, 5);
    EXPECT_EQ(done[0].result.rfind("done: restarting scheduler", 0), 0u) << done[0].result;
    r = n.step(ev::process_exited{"scheduler", "exited with status 0"});
    const Ready after = n.run_for(3000);
    const auto starts = all<act::start_process>(r);
    const auto later = all<act::start_process>(after);
    ASSERT_EQ(starts.size() + later.size(), 1u);
    EXPECT_EQ((starts.empty() ? later : starts)[0].term, 1);
    EXPECT_TRUE(all<act::release>(after).empty());
    EXPECT_EQ(n.core.role(), Role::active);
    EXPECT_EQ(n.core.term(), 1);
}

TEST(RestartCommand, KillsAtTheStopTimeoutIfTheProcessIgnoresSigterm) {
    Node n;
    n.become_active();
    n.run_for(1000);
    n.step(ev::process_restart{"scheduler", "cli", 6});
    const Ready r = n.run_for(400);
    EXPECT_TRUE(all<act::kill_process>(r).empty());
    EXPECT_EQ(all<act::kill_process>(n.run_for(200)).size(), 1u);  // stop timeout 500 ms
}

TEST(RestartCommand, RefusedForAnUnknownProcessOnAStandbyAndWhilePaused) {
    Node standby;
    Ready r = standby.step(ev::process_restart{"scheduler", "cli", 1});
    auto done = all<act::command_done>(r);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].result.rfind("refused:", 0), 0u) << done[0].result;
    EXPECT_TRUE(all<act::stop_process>(r).empty());

    Node n;
    n.become_active();
    n.run_for(1000);
    r = n.step(ev::process_restart{"webserver", "cli", 2});
    done = all<act::command_done>(r);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_NE(done[0].result.find("webserver is not running"), std::string::npos);
    EXPECT_TRUE(all<act::stop_process>(r).empty());

    ev::paused p;
    p.on = true;
    p.by = "cli:ops@host";
    n.step(p);
    r = n.step(ev::process_restart{"scheduler", "cli", 3});
    done = all<act::command_done>(r);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(done[0].result.rfind("refused: the cluster is paused", 0), 0u) << done[0].result;
    EXPECT_TRUE(all<act::stop_process>(r).empty());
}

}  // namespace
