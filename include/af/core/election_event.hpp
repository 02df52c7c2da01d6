#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "af/util/boot_clock.hpp"

namespace af::core {

/// Inputs to the election core. Results of database statements carry the local time read just
/// before the statement was sent: the lease deadline is computed from it, never from the reply.
namespace ev {

/// A timer fired (or anything else woke the loop, such as SIGCONT).
struct tick {};

struct acquire_result {
    bool won{false};
    std::int64_t term{0};               ///< the lease's term after the statement
    std::optional<std::string> holder;  ///< current holder when lost
    Duration remaining{0};              ///< holder's time left on the database clock when lost
    TimePoint sent_at{};
    /// When won: who held the term before ours ("" if nobody did or it cannot be told) and
    /// whether that term ended by a release (else it expired on the database clock). Either
    /// way the previous holder is fenced: a win needs a released or expired lease.
    std::string previous_holder;
    bool previous_released{false};
    /// When won: the previous term ended by an accepted switchover (counted apart from
    /// failovers in the metrics; the election does not use it).
    bool after_switchover{false};
};

struct renew_result {
    bool ok{false};  ///< false: the compare-and-set failed, the lease is no longer ours
    std::int64_t term{0};
    TimePoint sent_at{};
};

struct release_result {
    std::int64_t term{0};
    bool released{false};
};

enum class db_op { acquire, renew, release };

/// A statement failed (connection lost, timeout, server error). Says nothing about the lease.
struct db_failure {
    db_op op{db_op::acquire};
    std::int64_t term{0};
    std::string what;
};

/// A hint that the lease may just have been freed (NOTIFY, or a peer's datagram). It only makes
/// a standby ask the database sooner; it never changes who is active.
struct lease_hint {
    /// A switchover reserved the lease for this node ("" when not reserved): the target goes
    /// at once, the others need not try.
    std::string reserved_for;
};

/// A managed process ended (and its whole process group is gone).
struct process_exited {
    std::string name;
    std::string how;  ///< "exited with status 1", "killed by signal 9"
};

/// An operator asked to kill a process as if it had crashed (dashboard demo button); the node
/// then hands the lease over, so the audience sees the failover path.
struct process_terminate {
    std::string name;
    std::string requested_by;
    std::int64_t command_id{0};
};

/// An operator asked to restart a process in place (`airflow-failover restart`): stopped
/// gracefully and started again by this node, which keeps its lease; no crash is counted.
struct process_restart {
    std::string name;
    std::string requested_by;
    std::int64_t command_id{0};
};

/// A process kept failing its health check: it is killed and handled as a crash (restart in
/// place with backoff; repeated failures hand the lease over).
struct process_unhealthy {
    std::string name;
    std::string why;
};

/// An operator asked for a planned hand-over, to `target` or to the best standby.
struct switchover {
    std::optional<std::string> target;
    std::string requested_by;
    std::int64_t command_id{0};
};

/// An authenticated, fresh heartbeat from a peer (already checked by the PeerTracker).
struct peer_heartbeat {
    std::string node;
    bool active{false};
    bool standby{false};
    std::int64_t term{0};
    int priority{100};
    bool releasing{false};
    bool healthy{false};
};

/// The highest term on record in the database, read when the connection opens: a restarted
/// daemon starts its term floor there, not at zero.
struct term_floor {
    std::int64_t term{0};
};

/// SIGTERM/SIGINT: stop the processes gracefully, release the lease, exit.
struct stop_requested {
    std::string reason;
};

/// The answer to act::take_over: the previous holder's Airflow jobs were closed out (ok), or
/// the statement failed (the takeover goes on; Airflow's own orphan check is the fallback).
struct takeover_result {
    std::int64_t term{0};
    bool ok{false};
    std::string detail;  ///< "closed 2 job(s): SchedulerJob 17, ..." or the error
};

/// The answer to act::run_pre_promote: exit status 0 (ok) or a veto (non-zero, killed, timed
/// out, could not start), in words.
struct hook_result {
    std::int64_t term{0};
    bool ok{false};
    std::string detail;
};

/// The cluster's maintenance mode as the database has it, read on connect, on NOTIFY and
/// periodically (docs/operations.md). While paused nobody takes the lease, nothing is started
/// or restarted, health failures kill nothing; `stop_processes` also stops what runs. The
/// lease deadline is enforced as always.
struct paused {
    bool on{false};
    bool stop_processes{false};
    std::string by;
    std::string reason;
    bool expires{false};
    Duration remaining{0};  ///< until the expiry on the database clock (when `expires`)
    /// The lease as read with the pause ("" and 0: free or expired): a paused standby does not
    /// poll the lease, so this is how the shell still knows who is active (status, metrics).
    std::string lease_holder;
    std::int64_t lease_term{0};
    Duration lease_remaining{0};
};
/// The warm `name` wrote "ready": its imports are done and it waits for go.
struct warm_ready {
    std::string name;
};
/// The warm `name` ended (before go), or could not be started.
struct warm_exited {
    std::string name;
    std::string how;
};
/// The code the warm `name` loaded may be stale (SIGHUP, a watched path changed): replace it.
struct warm_stale {
    std::string name;
    std::string why;
};

}  // namespace ev

using Event =
    std::variant<ev::tick, ev::acquire_result, ev::renew_result, ev::release_result, ev::db_failure,
                 ev::lease_hint, ev::process_exited, ev::process_terminate, ev::process_restart,
                 ev::process_unhealthy, ev::switchover, ev::peer_heartbeat, ev::stop_requested,
                 ev::takeover_result, ev::hook_result, ev::term_floor, ev::paused, ev::warm_ready,
                 ev::warm_exited, ev::warm_stale>;

}  // namespace af::core
