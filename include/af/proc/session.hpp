#pragma once

#include <sys/types.h>

#include <vector>

namespace af::proc {

/// Managed processes are session leaders (setsid), and everything they start stays in their
/// session even when it makes a process group of its own, as Airflow 3's task runners do. So
/// "the process and everything it started" is its session, found by scanning /proc.

/// Live (not zombie) members of session `sid`.
std::vector<pid_t> session_members(pid_t sid);

/// True while any live process belongs to session `sid`.
bool session_alive(pid_t sid);

/// `sig` to the leader's process group and to every other member of the session.
void signal_session(pid_t sid, int sig);

/// For short-lived children (hooks, `command` health checks) that must leave nothing behind:
/// SIGKILL to the session of `root` and to every descendant of its members, also those that
/// made a session of their own (setsid, a daemonising script). They are stopped (SIGSTOP) first,
/// repeatedly until no new one appears, so none can fork its way out of the sweep before the kill.
/// A descendant whose parent already exited was re-parented away and cannot be found.
void kill_session_tree(pid_t root);

}  // namespace af::proc
