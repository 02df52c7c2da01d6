#include "af/proc/spawn.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

extern char** environ;

namespace af::proc {

namespace {
[[noreturn]] void child_fail(int fd, int err) {
    [[maybe_unused]] auto n = write(fd, &err, sizeof err);
    _exit(127);
}
}  // namespace

pid_t spawn(const SpawnSpec& spec) {
    if (spec.argv.empty())
        throw std::invalid_argument("spawn: empty command");
    // Everything the child needs is built before fork: after fork only async-signal-safe calls.
    std::vector<std::string> env_store;
    for (char** e = environ; *e; ++e) {
        std::string kv(*e);
        const auto eq = kv.find('=');
        if (eq != std::string::npos && spec.env_overrides.count(kv.substr(0, eq)))
            continue;
        env_store.push_back(std::move(kv));
    }
    for (const auto& [k, v] : spec.env_overrides)
        env_store.push_back(k + "=" + v);
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

    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) != 0)
        throw std::system_error(errno, std::generic_category(), "pipe2");
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
