// proc::ManagedProcess through the ProcessControl port (adapters::OsProcesses) on a fake
// operating system and simulated time: a crash reported once the whole session is gone, a
// restart in place, the warm copy's ready, go and stop, a watched path, the health check.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>

#include "af/adapters/os_processes.hpp"
#include "fakes/fake_process_os.hpp"

namespace {

using af::Duration;
using af::TimePoint;
using af::fakes::FakeProcessOs;
using af::fakes::SimClock;
namespace ev = af::core::ev;

int exited(int code) {
    return code << 8;  // a wait status as waitpid(2) reports an exit
}

af::config::ProcessConfig scheduler(bool warm = false) {
    af::config::ProcessConfig p;
    p.name = "scheduler";
    p.command = {"airflow", "scheduler"};
    if (warm)
        p.warm = af::config::WarmConfig{};
    return p;
}

/// One process on the fake OS, with the events it reported.
struct One {
    explicit One(af::config::ProcessConfig p)
        : os_owned(std::make_unique<FakeProcessOs>(clock)),
          os(*os_owned),
          procs(std::move(os_owned), clock, {std::move(p)}, af::proc::ChildEnv("c1", "n1")) {
        procs.listen([this](af::core::Event e) { events.push_back(std::move(e)); });
    }
    template <class E>
    std::vector<E> all() const {
        std::vector<E> out;
        for (const auto& e : events)
            if (const auto* x = std::get_if<E>(&e))
                out.push_back(*x);
        return out;
    }
    pid_t pid() const { return procs.describe().at(0).pid; }

    SimClock clock;
    std::unique_ptr<FakeProcessOs> os_owned;
    FakeProcessOs& os;
    af::adapters::OsProcesses procs;
    std::vector<af::core::Event> events;
};

TEST(ManagedProcess, ACrashIsReportedOnlyOnceNoMemberOfItsSessionIsLeft) {
    One o(scheduler());
    o.procs.start("scheduler", 5);
    const pid_t pid = o.pid();
    ASSERT_GT(pid, 0);
    EXPECT_EQ(o.os.specs.at(pid).env.set.at("AIRFLOW_FAILOVER_TERM"), "5");
    o.os.members[pid] = 2;    // it started a task runner
    o.os.lingering[pid] = 1;  // which survives the first SIGKILL to the session
    o.os.exit(pid);
    ASSERT_TRUE(o.procs.on_reaped(pid, exited(1)));
    o.clock.run_for(Duration{50});
    EXPECT_TRUE(o.all<ev::process_exited>().empty()) << "reported while its session lives";
    EXPECT_TRUE(o.procs.any_down());
    EXPECT_EQ(o.procs.groups(), std::vector<pid_t>{pid}) << "the guard must still kill it";
    // The session is swept again every tenth look; then it is empty and the exit is told.
    ASSERT_TRUE(
        o.clock.run_until([&] { return !o.all<ev::process_exited>().empty(); }, Duration{200}));
    EXPECT_EQ(o.os.kill_times.size(), 2u);
    EXPECT_EQ(o.all<ev::process_exited>().at(0).how, "exited with status 1");
    EXPECT_TRUE(o.procs.groups().empty());
    o.clock.run_for(Duration{1000});
    EXPECT_EQ(o.all<ev::process_exited>().size(), 1u);
}

TEST(ManagedProcess, ARestartInPlaceIsANewChildInTheSameTerm) {
    One o(scheduler());
    o.procs.start("scheduler", 5);
    const pid_t first = o.pid();
    o.os.exit(first);
    o.procs.on_reaped(first, exited(1));
    ASSERT_TRUE(
        o.clock.run_until([&] { return !o.all<ev::process_exited>().empty(); }, Duration{100}));
    o.procs.start("scheduler", 5);
    const auto s = o.procs.describe().at(0);
    EXPECT_NE(s.pid, first);
    EXPECT_TRUE(s.running);
    EXPECT_EQ(s.restarts, 1);
    EXPECT_EQ(s.term, 5);
    EXPECT_FALSE(o.procs.any_down());
    // A late reap of the first child is not this one's exit.
    EXPECT_FALSE(o.procs.on_reaped(first, exited(1)));
}

TEST(ManagedProcess, AFailedStartIsReportedAsAnExitOnALaterTurn) {
    One o(scheduler());
    o.os.fail_spawn = "airflow: not found";
    o.procs.start("scheduler", 5);
    EXPECT_TRUE(o.events.empty()) << "reported inside the caller's step";
    o.clock.run_for(Duration{0});
    ASSERT_EQ(o.all<ev::process_exited>().size(), 1u);
    EXPECT_EQ(o.all<ev::process_exited>()[0].how, "failed to start: airflow: not found");
}

TEST(ManagedProcess, StopAsksTheGroupKillFreezeAndThawTheSession) {
    One o(scheduler());
    o.procs.start("scheduler", 5);
    const std::string pid = std::to_string(o.pid());
    o.procs.signal("scheduler", af::ports::ProcSignal::stop);
    o.procs.signal("scheduler", af::ports::ProcSignal::freeze);
    o.procs.signal("scheduler", af::ports::ProcSignal::thaw);
    o.procs.signal("scheduler", af::ports::ProcSignal::kill);
    EXPECT_EQ(o.os.signals,
              (std::vector<std::string>{"SIGTERM group " + pid, "SIGSTOP session " + pid,
                                        "SIGCONT session " + pid, "SIGKILL session " + pid}));
}

TEST(ManagedProcess, AWarmCopySentGoIsTheRunningChildAndItsEndAProcessExit) {
    One o(scheduler(true));
    o.procs.warm_start("scheduler");
    const auto warm = o.procs.describe_warm().value();
    ASSERT_EQ(warm.size(), 1u);
    const pid_t pid = warm[0].pid;
    const auto& env = o.os.specs.at(pid).env.set;
    EXPECT_EQ(env.at("AIRFLOW_FAILOVER_WARM_FD"), "3");
    EXPECT_EQ(env.count("AIRFLOW_FAILOVER_TERM"), 0u) << "its term comes with go";
    EXPECT_FALSE(o.procs.go_warm("scheduler", 7)) << "go before ready";
    o.os.say(pid, "importing dags");
    o.os.say(pid, "ready");
    o.clock.run_for(Duration{0});
    ASSERT_EQ(o.all<ev::warm_ready>().size(), 1u);
    ASSERT_TRUE(o.procs.go_warm("scheduler", 7));
    EXPECT_EQ(o.os.pipes.at(pid)->sent, std::vector<std::string>{"go 7\n"});
    EXPECT_TRUE(o.os.pipes.at(pid)->closed);
    EXPECT_EQ(o.procs.groups(), std::vector<pid_t>{pid});
    EXPECT_EQ(o.procs.describe().at(0).term, 7);
    EXPECT_TRUE(o.procs.describe_warm().value().empty());
    // Its end is the managed process's end, not a warm copy's.
    o.os.exit(pid);
    ASSERT_TRUE(o.procs.on_reaped(pid, exited(0)));
    o.clock.run_for(Duration{100});
    EXPECT_EQ(o.all<ev::process_exited>().size(), 1u);
    EXPECT_TRUE(o.all<ev::warm_exited>().empty());
}

TEST(ManagedProcess, AWarmCopyThatSaysReadyButIsDeadIsNotReady) {
    One o(scheduler(true));
    o.procs.warm_start("scheduler");
    const pid_t pid = o.procs.describe_warm().value().at(0).pid;
    o.os.alive.erase(pid);  // a zombie
    o.os.say(pid, "ready");
    o.clock.run_for(Duration{0});
    EXPECT_TRUE(o.all<ev::warm_ready>().empty());
    EXPECT_FALSE(o.procs.go_warm("scheduler", 7));
}

TEST(ManagedProcess, AWarmCopyThatIgnoresEofIsKilledAfterTheGraceNotBefore) {
    One o(scheduler(true));
    o.procs.warm_start("scheduler");
    const pid_t pid = o.procs.describe_warm().value().at(0).pid;
    const TimePoint stopped = o.clock.now();
    o.procs.warm_stop("scheduler");
    EXPECT_TRUE(o.os.pipes.at(pid)->closed);
    EXPECT_TRUE(o.procs.describe_warm().value().at(0).stopping);
    ASSERT_TRUE(o.clock.run_until([&] { return !o.os.kill_times.empty(); }, Duration{10000}));
    EXPECT_EQ(o.os.kill_times[0] - stopped, af::proc::ManagedProcess::k_stop_grace);
    o.procs.on_reaped(pid, SIGKILL);
    ASSERT_EQ(o.all<ev::warm_exited>().size(), 1u);
    EXPECT_TRUE(o.procs.describe_warm().value().empty());
}

TEST(ManagedProcess, AWatchedPathThatChangesMakesTheWarmCopyStaleOnce) {
    auto p = scheduler(true);
    p.warm->watch_paths = {"/dags/etl.py"};
    One o(p);
    o.os.mtimes["/dags/etl.py"] = {100, 0};
    o.procs.warm_start("scheduler");
    o.clock.run_for(Duration{5000});
    EXPECT_TRUE(o.all<ev::warm_stale>().empty());
    o.os.mtimes["/dags/etl.py"] = {200, 0};
    const TimePoint changed = o.clock.now();
    ASSERT_TRUE(
        o.clock.run_until([&] { return !o.all<ev::warm_stale>().empty(); }, Duration{5000}));
    EXPECT_LE(o.clock.now() - changed, af::proc::ManagedProcess::k_watch_every);
    EXPECT_EQ(o.all<ev::warm_stale>()[0].why, "watched path /dags/etl.py changed");
    o.procs.warm_all_stale("SIGHUP");
    o.clock.run_for(Duration{5000});
    EXPECT_EQ(o.all<ev::warm_stale>().size(), 1u);
}

TEST(ManagedProcess, AFailingHealthCheckIsReportedAtTheThresholdAndNotAfterTheExit) {
    auto p = scheduler();
    af::config::HealthConfig h;
    h.interval = Duration{1000};
    h.failure_threshold = 3;
    h.start_period = Duration{0};
    h.check = af::config::CommandHealth{{"/bin/false"}};
    p.health = h;
    One o(p);
    o.os.check_results = {true, false, false, false, false, false, false};
    o.procs.start("scheduler", 5);
    const TimePoint started = o.clock.now();
    ASSERT_TRUE(o.clock.run_until([&] { return !o.all<ev::process_unhealthy>().empty(); },
                                  Duration{10000}));
    // One success, then three failures in a row: the fourth check, about four intervals in.
    EXPECT_GE(o.clock.now() - started, Duration{4000});
    EXPECT_LT(o.clock.now() - started, Duration{4100});
    EXPECT_EQ(o.procs.describe().at(0).health->last, "refused");
    const pid_t pid = o.pid();
    o.os.exit(pid);
    o.procs.on_reaped(pid, exited(1));
    o.clock.run_for(Duration{100});
    const int runs = o.os.checks_run;
    o.clock.run_for(Duration{10000});
    EXPECT_EQ(o.os.checks_run, runs) << "a check ran for a process that is gone";
}

}  // namespace
