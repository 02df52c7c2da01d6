// Unit tests for af::proc::spawn and describe_wait_status.
#include "af/proc/spawn.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace {

using af::proc::describe_wait_status;
using af::proc::spawn;
using af::proc::SpawnSpec;

int wait_for(pid_t pid) {
    int status = 0;
    pid_t r;
    do {
        r = waitpid(pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    EXPECT_EQ(r, pid);
    return status;
}

/// Runs `sh -c script` through spawn and returns its exit code (-1 if it did not exit).
int run_shell(const std::string& script, std::map<std::string, std::string> env = {},
              std::optional<std::string> cwd = {}) {
    SpawnSpec spec;
    spec.argv = {"/bin/sh", "-c", script};
    spec.env.set = std::move(env);
    spec.cwd = std::move(cwd);
    const int st = wait_for(spawn(spec));
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(DescribeWaitStatus, ExitStatuses) {
    EXPECT_EQ(describe_wait_status(0), "exited with status 0");
    EXPECT_EQ(describe_wait_status(1 << 8), "exited with status 1");
    EXPECT_EQ(describe_wait_status(3 << 8), "exited with status 3");
    EXPECT_EQ(describe_wait_status(255 << 8), "exited with status 255");
}

TEST(DescribeWaitStatus, SignalStatuses) {
    EXPECT_EQ(describe_wait_status(SIGKILL), "killed by signal 9 (Killed)");
    const std::string term = describe_wait_status(SIGTERM);
    EXPECT_EQ(term.rfind("killed by signal 15 (", 0), 0u) << term;
    EXPECT_NE(term.find(strsignal(SIGTERM)), std::string::npos) << term;
    // A core dump bit does not change what is reported.
    EXPECT_EQ(describe_wait_status(SIGSEGV | 0x80).rfind("killed by signal 11 (", 0), 0u);
}

TEST(DescribeWaitStatus, StoppedStatusIsReportedRaw) {
    const int stopped = (SIGSTOP << 8) | 0x7f;
    ASSERT_TRUE(WIFSTOPPED(stopped));
    EXPECT_EQ(describe_wait_status(stopped), "ended with wait status " + std::to_string(stopped));
}

TEST(DescribeWaitStatus, RealChildStatuses) {
    const pid_t a = fork();
    ASSERT_GE(a, 0);
    if (a == 0)
        _exit(7);
    EXPECT_EQ(describe_wait_status(wait_for(a)), "exited with status 7");

    const pid_t b = fork();
    ASSERT_GE(b, 0);
    if (b == 0) {
        raise(SIGKILL);
        _exit(0);
    }
    EXPECT_EQ(describe_wait_status(wait_for(b)), "killed by signal 9 (Killed)");
}

TEST(Spawn, ExitStatusReachesTheParent) {
    SpawnSpec spec;
    spec.argv = {"/bin/sh", "-c", "exit 3"};
    const pid_t pid = spawn(spec);
    ASSERT_GT(pid, 0);
    const int st = wait_for(pid);
    ASSERT_TRUE(WIFEXITED(st));
    EXPECT_EQ(WEXITSTATUS(st), 3);
    EXPECT_EQ(describe_wait_status(st), "exited with status 3");
}

TEST(Spawn, ChildLeadsItsOwnProcessGroup) {
    SpawnSpec spec;
    spec.argv = {"sleep", "5"};  // also exercises the PATH search
    const pid_t pid = spawn(spec);
    ASSERT_GT(pid, 0);
    EXPECT_EQ(getpgid(pid), pid);
    EXPECT_NE(getpgid(pid), getpgrp());
    ASSERT_EQ(kill(-pid, SIGKILL), 0);
    const int st = wait_for(pid);
    ASSERT_TRUE(WIFSIGNALED(st));
    EXPECT_EQ(WTERMSIG(st), SIGKILL);
}

TEST(Spawn, IgnoredSignalsAreResetInTheChild) {
    // SIG_IGN survives exec; the spawned process must still be stoppable with SIGTERM.
    struct sigaction ign {
    }, old{};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    ASSERT_EQ(sigaction(SIGTERM, &ign, &old), 0);
    sigset_t block, old_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    ASSERT_EQ(sigprocmask(SIG_BLOCK, &block, &old_mask), 0);
    SpawnSpec spec;
    spec.argv = {"/bin/sleep", "5"};
    pid_t pid = -1;
    try {
        pid = spawn(spec);
    } catch (...) {
        sigprocmask(SIG_SETMASK, &old_mask, nullptr);
        sigaction(SIGTERM, &old, nullptr);
        throw;
    }
    sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    sigaction(SIGTERM, &old, nullptr);
    ASSERT_GT(pid, 0);
    ASSERT_EQ(kill(-pid, SIGTERM), 0);
    const int st = wait_for(pid);
    ASSERT_TRUE(WIFSIGNALED(st)) << describe_wait_status(st);
    EXPECT_EQ(WTERMSIG(st), SIGTERM);
}

TEST(Spawn, MissingCommandThrowsSystemErrorNamingIt) {
    for (const std::string cmd : {"/nonexistent/af-no-such-command", "af-no-such-command-xyz"}) {
        SCOPED_TRACE(cmd);
        SpawnSpec spec;
        spec.argv = {cmd, "arg"};
        try {
            spawn(spec);
            ADD_FAILURE() << "spawn did not throw";
        } catch (const std::system_error& e) {
            EXPECT_NE(std::string(e.what()).find(cmd), std::string::npos) << e.what();
            EXPECT_EQ(e.code().value(), ENOENT) << e.what();
        }
        // The failed child was reaped by spawn: no zombie is left behind.
        errno = 0;
        EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
        EXPECT_EQ(errno, ECHILD);
    }
}

TEST(Spawn, NonExecutableFileThrows) {
    SpawnSpec spec;
    spec.argv = {"/etc/hostname"};  // exists, not executable
    if (access("/etc/hostname", F_OK) != 0)
        GTEST_SKIP() << "/etc/hostname missing";
    EXPECT_THROW(spawn(spec), std::system_error);
}

TEST(Spawn, EmptyCommandIsRefused) {
    SpawnSpec spec;
    EXPECT_THROW(spawn(spec), std::invalid_argument);
}

TEST(Spawn, EnvOverridesReachTheChild) {
    EXPECT_EQ(run_shell("test \"$FOO\" = bar", {{"FOO", "bar"}}), 0);
    EXPECT_NE(run_shell("test \"$FOO\" = bar", {{"FOO", "baz"}}), 0);
}

TEST(Spawn, EnvOverrideReplacesAnInheritedVariableAndNamedOnesAreInherited) {
    ASSERT_EQ(setenv("AF_SPAWN_TEST_OLD", "old", 1), 0);
    ASSERT_EQ(setenv("AF_SPAWN_TEST_KEEP", "kept", 1), 0);
    // Exactly one definition of the overridden variable, with the new value.
    SpawnSpec spec;
    spec.argv = {"/bin/sh", "-c",
                 "test \"$AF_SPAWN_TEST_OLD\" = new && test \"$AF_SPAWN_TEST_KEEP\" = kept && "
                 "test \"$(env | grep -c '^AF_SPAWN_TEST_OLD=')\" = 1"};
    spec.env.set = {{"AF_SPAWN_TEST_OLD", "new"}};
    spec.env.inherit = {"AF_SPAWN_TEST_OLD", "AF_SPAWN_TEST_KEEP"};
    const int st = wait_for(spawn(spec));
    unsetenv("AF_SPAWN_TEST_OLD");
    unsetenv("AF_SPAWN_TEST_KEEP");
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << describe_wait_status(st);
}

// Attack: the daemon's libpq credentials must not reach the code it runs.
TEST(Spawn, TheDaemonsLibpqVariablesDoNotReachTheChild) {
    ASSERT_EQ(setenv("PGPASSWORD", "daemon-secret", 1), 0);
    ASSERT_EQ(setenv("PGPASSFILE", "/etc/airflow-failover/pgpass", 1), 0);
    ASSERT_EQ(setenv("PGUSER", "airflow_failover", 1), 0);
    ASSERT_EQ(setenv("LC_ALL", "C", 1), 0);
    const int leaked = run_shell("env | grep -q '^PG'");
    const int base = run_shell("test \"$LC_ALL\" = C && test -n \"$PATH\"");
    SpawnSpec named;
    named.argv = {"/bin/sh", "-c",
                  "test \"$PGPASSFILE\" = /etc/airflow-failover/pgpass && test -z "
                  "\"${PGPASSWORD+set}\""};
    named.env.inherit = {"PGPASSFILE"};
    const int st = wait_for(spawn(named));
    unsetenv("PGPASSWORD");
    unsetenv("PGPASSFILE");
    unsetenv("PGUSER");
    unsetenv("LC_ALL");
    EXPECT_NE(leaked, 0) << "a PG* variable reached the child";
    EXPECT_EQ(base, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << describe_wait_status(st);
}

/// The descriptors the child has open once it has started ("0 1 2"), read from /proc by us.
/// Right after exec the dynamic loader still has a library open at the lowest free descriptor
/// (CI saw it as fd 4), so the child stops itself when it is up and we read its table then.
std::string child_fds(SpawnSpec spec) {
    spec.argv = {"/bin/sh", "-c", "kill -STOP $$; exit 0"};
    const pid_t pid = spawn(spec);
    int st = 0;
    if (waitpid(pid, &st, WUNTRACED) != pid || !WIFSTOPPED(st)) {
        ADD_FAILURE() << "child did not stop itself: " << describe_wait_status(st);
        return "";
    }
    std::vector<int> fds;
    const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    if (DIR* d = opendir(dir.c_str())) {
        while (const dirent* e = readdir(d))
            if (e->d_name[0] != '.')
                fds.push_back(std::atoi(e->d_name));
        closedir(d);
    }
    kill(pid, SIGKILL);
    wait_for(pid);
    std::sort(fds.begin(), fds.end());
    std::string out;
    for (int fd : fds)
        out += (out.empty() ? "" : " ") + std::to_string(fd);
    return out;
}

// Attack: descriptors opened without close-on-exec (a socket, a pipe) must not leak.
TEST(Spawn, OnlyStdioAndKeptDescriptorsReachTheChild) {
    const int udp = socket(AF_INET, SOCK_DGRAM, 0);  // no SOCK_CLOEXEC, like Boost.Asio's
    int p[2];
    ASSERT_EQ(pipe(p), 0);  // no O_CLOEXEC
    ASSERT_GE(udp, 3);
    EXPECT_EQ(child_fds(SpawnSpec{}), "0 1 2");
    SpawnSpec keep;
    keep.keep_fds = {p[1]};
    EXPECT_EQ(child_fds(keep), "0 1 2 " + std::to_string(p[1]));
    SpawnSpec pass;
    pass.pass_fd = p[0];
    EXPECT_EQ(child_fds(pass), "0 1 2 3");
    close(udp);
    close(p[0]);
    close(p[1]);
}

TEST(Spawn, KeptDescriptorsMustBeAboveThree) {
    SpawnSpec spec;
    spec.argv = {"/bin/true"};
    spec.keep_fds = {2};
    EXPECT_THROW(spawn(spec), std::invalid_argument);
}

TEST(Spawn, CwdIsApplied) {
    EXPECT_EQ(run_shell("test \"$(pwd -P)\" = /", {}, std::string("/")), 0);
}

TEST(Spawn, MissingCwdThrows) {
    SpawnSpec spec;
    spec.argv = {"/bin/sh", "-c", "exit 0"};
    spec.cwd = "/nonexistent/af-no-such-dir";
    try {
        spawn(spec);
        ADD_FAILURE() << "spawn did not throw";
    } catch (const std::system_error& e) {
        EXPECT_EQ(e.code().value(), ENOENT);
        EXPECT_NE(std::string(e.what()).find("/bin/sh"), std::string::npos) << e.what();
    }
}

TEST(Spawn, PassedDescriptorIsFd3InTheChild) {
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    SpawnSpec spec;
    spec.argv = {"/bin/sh", "-c", "echo hello >&3"};
    spec.pass_fd = p[1];
    const pid_t pid = spawn(spec);
    close(p[1]);
    const int st = wait_for(pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << describe_wait_status(st);
    char buf[32] = {};
    const ssize_t n = read(p[0], buf, sizeof buf - 1);
    close(p[0]);
    EXPECT_EQ(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0), "hello\n");
}

}  // namespace
