#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace af::proc {

struct SpawnSpec {
    std::vector<std::string> argv;
    std::map<std::string, std::string> env_overrides;  ///< added to the daemon's environment
    std::optional<std::string> cwd;
    /// Kill the child when the spawning thread dies (PR_SET_PDEATHSIG), a backstop for kill -9.
    bool die_with_parent{true};
    /// Descriptor to keep open in the child as fd 3 (the guard's command pipe), or -1.
    int pass_fd{-1};
};

/// Starts a process in a new session of its own (sid == pgid == pid), with signals reset.
/// Returns the pid, or throws std::system_error naming the command when it cannot be executed
/// (an exec failure is reported back through a close-on-exec pipe, not as a silent exit 127).
pid_t spawn(const SpawnSpec& spec);

/// "exited with status 1", "killed by signal 9 (Killed)".
std::string describe_wait_status(int status);

}  // namespace af::proc
