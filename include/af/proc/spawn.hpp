#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "af/proc/child_env.hpp"
#include "af/proc/run_as.hpp"

namespace af::proc {

struct SpawnSpec {
    std::vector<std::string> argv;
    /// What the child sees of the daemon's environment and what is set in it: built by
    /// ChildEnv (child_env.hpp), the only place that assembles it.
    EnvPolicy env;
    std::optional<std::string> cwd;
    /// Kill the child when the spawning thread dies (PR_SET_PDEATHSIG), a backstop for kill -9.
    bool die_with_parent{true};
    /// Descriptor to keep open in the child as fd 3 (the guard's command pipe), or -1.
    int pass_fd{-1};
    /// Further descriptors the child keeps, at their own numbers (all > 3). Every other
    /// descriptor above 2 is closed at exec, whatever its close-on-exec flag says.
    std::vector<int> keep_fds;
    /// Run under another user and group (setgroups, setgid, setuid in the child); HOME, USER and
    /// LOGNAME are then the target user's.
    std::optional<RunAs> run_as;
    /// The daemon's own helpers only (the guard, which signals Airflow's process groups): keep
    /// the daemon's capabilities. Everyone else starts with none (a non-root daemon's
    /// capabilities are cleared, ambient ones included).
    bool keep_capabilities{false};
};

/// Starts a process in a new session of its own (sid == pgid == pid), with signals reset.
/// Returns the pid, or throws std::system_error naming the command when it cannot be executed
/// (an exec failure is reported back through a close-on-exec pipe, not as a silent exit 127).
pid_t spawn(const SpawnSpec& spec);

/// "exited with status 1", "killed by signal 9 (Killed)".
std::string describe_wait_status(int status);

}  // namespace af::proc
