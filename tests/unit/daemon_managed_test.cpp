// The real Daemon with the real ProcessControl adapter (OsProcesses, one ManagedProcess per
// process) on a fake operating system and simulated time: a crash restarts in place after
// the backoff, a warm copy is sent go on promotion and then supervised like a cold start.
#include <gtest/gtest.h>

#include "af/adapters/os_processes.hpp"
#include "fakes/fake_process_os.hpp"
#include "fakes/sim_cluster.hpp"

namespace {

using af::Duration;
using af::TimePoint;
using json = nlohmann::json;
namespace fk = af::fakes;

/// One node whose processes are ManagedProcesses on a FakeProcessOs.
struct OsNode {
    explicit OsNode(const json& extra = json::object())
        : cfg(fk::sim_config("n1", extra)),
          store(db, "n1", cfg.lease.ttl),
          os_owned(std::make_unique<fk::FakeProcessOs>(clock)),
          os(*os_owned),
          procs(std::move(os_owned), clock, cfg.processes, af::proc::ChildEnv("sim", "n1")) {
        daemon = std::make_unique<af::daemon::Daemon>(
            cfg, af::daemon::Ports{clock, store, commands, procs, guard});
    }
    /// The scheduler's child crashes (exit 1) and is reaped; returns when that was.
    TimePoint crash() {
        const pid_t pid = procs.describe().at(0).pid;
        os.exit(pid);
        procs.on_reaped(pid, 1 << 8);
        return clock.now();
    }
    std::size_t spawned() const { return os.specs.size(); }

    fk::SimClock clock;
    fk::FakeDb db{clock};
    af::config::Config cfg;
    fk::FakeLeaseStore store;
    fk::FakeCommands commands{clock};
    fk::FakeGuard guard;
    std::unique_ptr<fk::FakeProcessOs> os_owned;
    fk::FakeProcessOs& os;
    af::adapters::OsProcesses procs;
    std::unique_ptr<af::daemon::Daemon> daemon;
};

/// The restart came at the backoff, give or take the loop's next turn.
void expect_after(std::chrono::nanoseconds took, Duration backoff) {
    EXPECT_GE(took, backoff);
    EXPECT_LE(took, backoff + Duration{10});
}

TEST(DaemonManaged, ACrashRestartsInPlaceAfterABackoffThatDoubles) {
    OsNode n;
    n.daemon->start();
    ASSERT_TRUE(n.clock.run_until([&] { return n.spawned() == 1; }, Duration{5000}));
    const pid_t first = n.procs.describe().at(0).pid;
    EXPECT_EQ(n.guard.groups, std::set<pid_t>{first});
    TimePoint crashed = n.crash();
    ASSERT_TRUE(n.clock.run_until([&] { return n.spawned() == 2; }, Duration{5000}));
    expect_after(n.clock.now() - crashed, n.cfg.supervision.restart_backoff_initial);
    crashed = n.crash();
    ASSERT_TRUE(n.clock.run_until([&] { return n.spawned() == 3; }, Duration{5000}));
    expect_after(n.clock.now() - crashed, 2 * n.cfg.supervision.restart_backoff_initial);
    const auto s = n.procs.describe().at(0);
    EXPECT_TRUE(s.running);
    EXPECT_EQ(s.restarts, 2);
    EXPECT_EQ(s.term, n.db.term) << "restarted in place: the same term";
    EXPECT_EQ(n.db.holder, "n1");
}

TEST(DaemonManaged, AWarmCopyIsSentGoOnPromotionAndItsCrashRestartsItCold) {
    OsNode n(json{
        {"processes",
         {{{"name", "scheduler"}, {"command", {"/bin/true"}}, {"warm", {{"enabled", true}}}}}}});
    n.daemon->start();
    // Started before the first lease read; its imports are done before the acquire answers.
    ASSERT_EQ(n.spawned(), 1u);
    const pid_t warm = n.os.specs.begin()->first;
    n.os.say(warm, "ready");
    ASSERT_TRUE(n.clock.run_until([&] { return n.db.holder == "n1"; }, Duration{5000}));
    n.clock.run_for(Duration{100});
    EXPECT_EQ(n.spawned(), 1u) << "started cold beside a ready warm copy";
    EXPECT_EQ(n.os.pipes.at(warm)->sent,
              std::vector<std::string>{"go " + std::to_string(n.db.term) + "\n"});
    EXPECT_EQ(n.guard.groups, std::set<pid_t>{warm}) << "the guard does not know the warm child";
    // From now on it is the managed process: its crash is a restart in place, cold.
    const TimePoint crashed = n.crash();
    ASSERT_TRUE(n.clock.run_until([&] { return n.spawned() == 2; }, Duration{5000}));
    expect_after(n.clock.now() - crashed, n.cfg.supervision.restart_backoff_initial);
    const pid_t cold = n.procs.describe().at(0).pid;
    EXPECT_NE(cold, warm);
    EXPECT_EQ(n.os.specs.at(cold).env.set.at("AIRFLOW_FAILOVER_TERM"), std::to_string(n.db.term));
    EXPECT_EQ(n.guard.groups, std::set<pid_t>{cold});
}

}  // namespace
