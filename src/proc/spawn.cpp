#include "af/proc/spawn.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <system_error>

#include "af/proc/child_env.hpp"

extern char** environ;

namespace af::proc {

namespace {
[[noreturn]] void child_fail(int fd, int err) {
    [[maybe_unused]] auto n = write(fd, &err, sizeof err);
    _exit(127);
}

/// Marks every descriptor from `lo` to `hi` close-on-exec (async-signal-safe). A descriptor
/// the daemon forgot to open with O_CLOEXEC (or one a library opened) must not reach the child.
int cloexec_range(unsigned lo, unsigned hi) {
    if (lo > hi)
        return 0;
    if (syscall(SYS_close_range, lo, hi, CLOSE_RANGE_CLOEXEC) == 0)
        return 0;
    if (errno != ENOSYS && errno != EINVAL)
        return errno;
    // Kernels before 5.11: one fcntl per possible descriptor, bounded by RLIMIT_NOFILE.
    rlimit rl{};
    const rlim_t max =
        getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? rl.rlim_cur : 65536;
    for (unsigned fd = lo; fd <= hi && fd < max; ++fd)
        fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
    return 0;
}
}  // namespace

pid_t spawn(const SpawnSpec& spec) {
    if (spec.argv.empty())
        throw std::invalid_argument("spawn: empty command");
    // Everything the child needs is built before fork: after fork only async-signal-safe calls.
    std::vector<std::string> env_store =
        child_environment(environ, spec.run_as ? as_user(spec.env, *spec.run_as) : spec.env);
    std::vector<char*> envp;
    for (auto& s : env_store)
        envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_store = spec.argv;
    std::vector<char*> argv;
    for (auto& s : argv_store)
        argv.push_back(s.data());
    argv.push_back(nullptr);
    std::string path_env;
    if (const char* p = getenv("PATH"))
        path_env = p;
    // The descriptors that survive exec: 3 (pass_fd) and keep_fds, sorted.
    std::vector<int> keep = spec.keep_fds;
    for (int fd : keep)
        if (fd <= 3)
            throw std::invalid_argument("spawn: keep_fds must be above 3, got " +
                                        std::to_string(fd));
    if (spec.pass_fd >= 0)
        keep.push_back(3);
    std::sort(keep.begin(), keep.end());
    keep.erase(std::unique(keep.begin(), keep.end()), keep.end());

    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) != 0)
        throw std::system_error(errno, std::generic_category(), "pipe2");
    // The error pipe must not sit where the child puts a kept descriptor (dup2 would replace it).
    const int top_kept = keep.empty() ? 2 : keep.back();
    if (errpipe[1] <= top_kept) {
        const int moved = fcntl(errpipe[1], F_DUPFD_CLOEXEC, top_kept + 1);
        if (moved < 0) {
            const int err = errno;
            close(errpipe[0]);
            close(errpipe[1]);
            throw std::system_error(err, std::generic_category(), "fcntl F_DUPFD_CLOEXEC");
        }
        close(errpipe[1]);
        errpipe[1] = moved;
    }
    // Root keeps its capabilities in its children (a root daemon's children are root anyway;
    // use processes[].user): dropping them is for a non-root daemon given some by its unit.
    bool has_caps_to_drop = false;
    if (!spec.keep_capabilities && geteuid() != 0) {
        __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct cur[_LINUX_CAPABILITY_U32S_3] = {};
        if (syscall(SYS_capget, &hdr, cur) == 0)
            for (const auto& d : cur)
                has_caps_to_drop = has_caps_to_drop || d.permitted || d.inheritable;
    }
    // Without CAP_SETGID, setgroups fails even for our own groups: change only what differs.
    const bool change_identity =
        spec.run_as && (spec.run_as->uid != geteuid() || spec.run_as->gid != getegid());
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
        const int err = errno;
        close(errpipe[0]);
        close(errpipe[1]);
        throw std::system_error(err, std::generic_category(), "fork " + spec.argv[0]);
    }
    if (pid == 0) {
        close(errpipe[0]);
        // A session of its own (and so a process group of its own): whatever it starts stays
        // in this session even if it makes new process groups, and can be found and killed.
        setsid();
        // Identity first: changing credentials clears PR_SET_PDEATHSIG, so that comes after.
        if (change_identity) {
            if (setgroups(spec.run_as->groups.size(), spec.run_as->groups.data()) != 0 ||
                setgid(spec.run_as->gid) != 0 || setuid(spec.run_as->uid) != 0)
                child_fail(errpipe[1], errno);
        }
        // The daemon may hold capabilities (CAP_SETUID/SETGID/KILL in the packaged unit, to
        // run Airflow as its own user and signal it). They are the daemon's, not its
        // children's: ambient ones would survive exec, so clear them all.
        if (has_caps_to_drop) {
            prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
            __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
            __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {};
            if (syscall(SYS_capset, &hdr, none) != 0)
                child_fail(errpipe[1], errno);
        }
        if (spec.die_with_parent) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(1);  // parent already gone: do not outlive it
        }
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, nullptr);
        for (int s = 1; s < NSIG; ++s)
            signal(s, SIG_DFL);
        if (spec.pass_fd >= 0) {
            if (spec.pass_fd != 3) {
                if (dup2(spec.pass_fd, 3) < 0)
                    child_fail(errpipe[1], errno);
            } else {
                fcntl(3, F_SETFD, 0);
            }
        }
        unsigned next = 3;
        for (int fd : keep) {
            if (cloexec_range(next, static_cast<unsigned>(fd) - 1) != 0)
                child_fail(errpipe[1], errno);
            fcntl(fd, F_SETFD, 0);
            next = static_cast<unsigned>(fd) + 1;
        }
        if (cloexec_range(next, UINT_MAX) != 0)
            child_fail(errpipe[1], errno);
        if (spec.cwd && chdir(spec.cwd->c_str()) != 0)
            child_fail(errpipe[1], errno);
        const char* file = argv[0];
        if (strchr(file, '/')) {
            execve(file, argv.data(), envp.data());
        } else {
            // execvpe is a GNU extension; walk PATH by hand with a stack buffer.
            const char* p = path_env.empty() ? "/usr/local/bin:/usr/bin:/bin" : path_env.c_str();
            char buf[4096];
            int last = ENOENT;
            while (*p) {
                const char* colon = strchr(p, ':');
                const size_t len = colon ? static_cast<size_t>(colon - p) : strlen(p);
                const size_t flen = strlen(file);
                if (len + flen + 2 < sizeof buf) {
                    memcpy(buf, p, len);
                    buf[len] = '/';
                    memcpy(buf + len + 1, file, flen + 1);
                    execve(buf, argv.data(), envp.data());
                    if (errno != ENOENT)
                        last = errno;
                }
                p = colon ? colon + 1 : p + len;
            }
            errno = last;
        }
        child_fail(errpipe[1], errno);
    }
    close(errpipe[1]);
    int err = 0;
    ssize_t n;
    do {
        n = read(errpipe[0], &err, sizeof err);
    } while (n < 0 && errno == EINTR);
    close(errpipe[0]);
    if (n == static_cast<ssize_t>(sizeof err)) {
        int st;
        waitpid(pid, &st, 0);
        throw std::system_error(err, std::generic_category(), "cannot execute " + spec.argv[0]);
    }
    return pid;
}

std::string describe_wait_status(int status) {
    if (WIFEXITED(status))
        return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
               strsignal(WTERMSIG(status)) + ")";
    return "ended with wait status " + std::to_string(status);
}

}  // namespace af::proc
