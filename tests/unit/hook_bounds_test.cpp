// Hooks and `command` health checks with real children (issue 22, item 4): at the timeout
// nothing they started survives, also a child that made a session of its own; on_role_change
// runs waiting behind a slow one are replaced by the newest, never told late; a command check
// runs with the checked process's environment and working directory.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "af/health/health_check.hpp"
#include "af/hooks/hook_runner.hpp"

namespace {

using namespace std::chrono_literals;

af::proc::EnvPolicy env_with(std::map<std::string, std::string> set) {
    af::proc::EnvPolicy p;
    p.set = std::move(set);
    return p;
}
namespace fs = std::filesystem;

/// Runs the io_context and hands reaped children to `reap` until `done` or the time is up.
template <class Reap, class Done>
void pump(boost::asio::io_context& io, Reap reap, Done done, std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < until) {
        io.restart();
        io.run_for(10ms);
        int status = 0;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
            reap(pid, status);
    }
}

fs::path temp_dir() {
    fs::path d = fs::temp_directory_path() /
                 ("af-hook-" + std::to_string(getpid()) + "-" + std::to_string(std::rand()));
    fs::create_directories(d);
    return d;
}

/// The pid a script wrote to `file`, once it is there.
pid_t pid_in(const fs::path& file) {
    for (int i = 0; i < 300; ++i) {
        std::ifstream in(file);
        long pid = 0;
        if (in >> pid && pid > 0)
            return static_cast<pid_t>(pid);
        std::this_thread::sleep_for(10ms);
    }
    return 0;
}

bool alive(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    if (!std::getline(in, stat))
        return false;
    const auto rp = stat.rfind(')');
    return rp != std::string::npos && stat[rp + 2] != 'Z' && stat[rp + 2] != 'X';
}

bool gone_soon(pid_t pid) {
    for (int i = 0; i < 200 && alive(pid); ++i)
        std::this_thread::sleep_for(10ms);
    return !alive(pid);
}

/// Whether `pid` is gone shortly; a survivor is killed here so no test leaves it behind.
bool gone_or_reaped_by_test(pid_t pid) {
    const bool gone = gone_soon(pid);
    if (!gone)
        kill(pid, SIGKILL);
    return gone;
}

// A child that leaves for a session of its own (setsid) and sleeps: the old kill reached only
// the hook's process group and left it running for good.
constexpr const char* k_escape = "setsid sh -c 'echo $$ > \"$ESCAPEE\"; exec sleep 300' & wait";

}  // namespace

TEST(HookBounds, TimeoutKillsAChildInItsOwnSession) {
    const fs::path d = temp_dir();
    boost::asio::io_context io;
    af::config::HookConfig cfg;
    cfg.command = {"/bin/sh", "-c", k_escape};
    cfg.timeout = 300ms;
    af::hooks::HookRunner hook(io, "on_role_change", cfg);
    std::optional<af::hooks::Outcome> got;
    hook.enqueue(env_with({{"ESCAPEE", (d / "pid").string()}}),
                 [&](const af::hooks::Outcome& o) { got = o; });
    const pid_t escapee = pid_in(d / "pid");
    ASSERT_GT(escapee, 0);
    pump(
        io, [&](pid_t p, int s) { hook.on_reaped(p, s); }, [&] { return got.has_value(); }, 10s);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->kind, af::hooks::Outcome::Kind::timed_out);
    EXPECT_TRUE(gone_or_reaped_by_test(escapee))
        << "the hook's child in its own session survived the timeout";
    fs::remove_all(d);
}

TEST(HookBounds, CommandCheckTimeoutKillsAChildInItsOwnSession) {
    const fs::path d = temp_dir();
    boost::asio::io_context io;
    af::config::HealthConfig hc;
    hc.timeout = 300ms;
    hc.check = af::config::CommandHealth{{"/bin/sh", "-c", k_escape}};
    af::proc::SpawnSpec context;
    context.env.set["ESCAPEE"] = (d / "pid").string();
    auto check = af::health::make_check(io, hc, context);
    std::optional<bool> ok;
    check->run({}, [&](bool r, const std::string&) { ok = r; });
    const pid_t escapee = pid_in(d / "pid");
    ASSERT_GT(escapee, 0);
    pump(
        io, [&](pid_t p, int s) { check->on_reaped(p, s); }, [&] { return ok.has_value(); }, 10s);
    ASSERT_TRUE(ok.has_value());
    EXPECT_FALSE(*ok);
    EXPECT_TRUE(gone_or_reaped_by_test(escapee))
        << "the check's child in its own session survived the timeout";
    fs::remove_all(d);
}

TEST(HookBounds, CommandCheckRunsInTheProcesssContext) {
    const fs::path d = temp_dir();
    boost::asio::io_context io;
    af::config::HealthConfig hc;
    hc.timeout = 5000ms;
    // Passes only with the process's variable and working directory, as `airflow jobs check`
    // needs AIRFLOW_HOME and the database connection of the scheduler it checks.
    hc.check = af::config::CommandHealth{
        {"/bin/sh", "-c", "test \"$AIRFLOW_HOME\" = /the/home && test \"$(pwd)\" = \"$WANT_CWD\""}};
    af::proc::SpawnSpec context;
    context.env.set = {{"AIRFLOW_HOME", "/the/home"}, {"WANT_CWD", d.string()}};
    context.cwd = d.string();
    auto check = af::health::make_check(io, hc, context);
    std::optional<bool> ok;
    std::string why;
    check->run({}, [&](bool r, const std::string& w) {
        ok = r;
        why = w;
    });
    pump(
        io, [&](pid_t p, int s) { check->on_reaped(p, s); }, [&] { return ok.has_value(); }, 10s);
    ASSERT_TRUE(ok.has_value());
    EXPECT_TRUE(*ok) << why;
    fs::remove_all(d);
}

TEST(HookBounds, RoleChangeRunsWaitingBehindASlowOneAreReplacedByTheNewest) {
    const fs::path d = temp_dir();
    const fs::path log = d / "calls";
    boost::asio::io_context io;
    af::config::HookConfig cfg;
    // The first run is slow; the later ones only note which call they are.
    cfg.command = {"/bin/sh", "-c", "echo \"$CALL\" >> \"$LOG\"; [ \"$CALL\" != 1 ] || sleep 0.5"};
    cfg.timeout = 5000ms;
    af::hooks::HookRunner hook(io, "on_role_change", cfg, 64, true);
    std::vector<af::hooks::Outcome::Kind> outcomes(6);
    int finished = 0;
    for (int i = 1; i <= 5; ++i)
        hook.enqueue(env_with({{"CALL", std::to_string(i)}, {"LOG", log.string()}}),
                     [&, i](const af::hooks::Outcome& o) {
                         outcomes[i] = o.kind;
                         ++finished;
                     });
    pump(
        io, [&](pid_t p, int s) { hook.on_reaped(p, s); }, [&] { return finished == 5; }, 10s);
    ASSERT_EQ(finished, 5);
    std::ifstream in(log);
    std::vector<std::string> calls;
    for (std::string line; std::getline(in, line);)
        calls.push_back(line);
    // The running one finishes; of the four that waited only the newest runs, after it.
    EXPECT_EQ(calls, (std::vector<std::string>{"1", "5"}));
    for (int i = 2; i <= 4; ++i)
        EXPECT_EQ(outcomes[i], af::hooks::Outcome::Kind::dropped) << i;
    EXPECT_EQ(outcomes[5], af::hooks::Outcome::Kind::ok);
    fs::remove_all(d);
}
