#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "af/core/role.hpp"
#include "af/util/boot_clock.hpp"

namespace af::core {

/// Outputs of the election core: the shell carries them out in order.
namespace act {

/// Take the lease if it is free; a win takes a term above `min_term`, the highest term this node
/// has seen, so terms never repeat even if the lease row went back to an older term (restored
/// from a backup, or an asynchronous replica promoted).
struct try_acquire {
    std::int64_t min_term{0};
};
struct renew {
    std::int64_t term{0};
};
/// Free the lease; with a non-empty `reserved_for`, only that node may take it for one TTL
/// (switchover). A plain string: GCC 12 warns falsely about std::optional inside a variant.
struct release {
    std::int64_t term{0};
    std::string reserved_for;
};
/// Start one managed process with this term in its environment.
struct start_process {
    std::string name;
    std::int64_t term{0};
};
/// SIGTERM to the process group now; the core sends kill_process later if it must.
struct stop_process {
    std::string name;
};
/// SIGKILL to the process group now.
struct kill_process {
    std::string name;
};
/// SIGSTOP to the process group: a renewal is late, and the processes must not go on deciding
/// while the lease may be lost. They keep their state; thaw_process (SIGCONT) lets them go on.
struct freeze_process {
    std::string name;
};
struct thaw_process {
    std::string name;
};
/// Tell the guard the deadline by which it must kill the process groups if not extended.
struct arm_guard {
    std::int64_t term{0};
    TimePoint deadline{};
};
struct disarm_guard {};
/// Append a row to the events table (and the log). `kind` is on the list of event kinds
/// (af/core/event_kinds.def); the core writes it as to_string(EventKind).
struct record {
    std::string kind;
    std::string detail;
    std::int64_t term{0};
};
struct exit {
    int code{0};
};
/// Mark an operator command as done, with the outcome in words.
struct command_done {
    std::int64_t id{0};
    std::string result;
};

/// Close out the previous holder's Airflow jobs (it is fenced: its lease was released or expired
/// on the database clock); answered by ev::takeover_result. Sent after database fencing, before
/// any process of the term starts.
struct take_over {
    std::int64_t term{0};
    std::string previous_holder;
};
/// Cancel the takeover statement of `term` (no answer within airflow.takeover.timeout_ms); it is
/// still answered by ev::takeover_result, which then says whether the statement committed.
struct cancel_takeover {
    std::int64_t term{0};
};
/// Run hooks.pre_promote; answered by ev::hook_result. No process starts before the answer.
struct run_pre_promote {
    std::int64_t term{0};
    std::string previous_holder;
};
/// Queue hooks.on_role_change (asynchronous, in order; nothing waits for it).
struct role_change {
    RoleChange action{RoleChange::promote};
    Role role{Role::active};  ///< the new role: active, standby or stopped
    std::int64_t term{0};
    std::string previous_holder;  ///< promote: who held the term before ours ("" if none)
};

/// Warm standby (docs/warm-standby.md). Pre-start `name` on this standby, blocked on go; its
/// "ready" comes back as ev::warm_ready, its end as ev::warm_exited.
struct warm_start {
    std::string name;
};
/// Send go with the term to the ready warm `name`: from now on it is the running process (the
/// shell starts it cold if the warm one is gone meanwhile).
struct warm_go {
    std::string name;
    std::int64_t term{0};
};
/// End the warm `name` (EOF on its pipe, then a kill); ev::warm_exited follows.
struct warm_stop {
    std::string name;
};

}  // namespace act

using Action =
    std::variant<act::try_acquire, act::renew, act::release, act::start_process, act::stop_process,
                 act::freeze_process, act::thaw_process, act::kill_process, act::arm_guard,
                 act::disarm_guard, act::record, act::exit, act::command_done, act::take_over,
                 act::cancel_takeover, act::run_pre_promote, act::role_change, act::warm_start,
                 act::warm_go, act::warm_stop>;

/// What one step of the core asks of the shell (etcd raft's Ready, in small).
struct Ready {
    std::vector<Action> actions;
    TimePoint next_wakeup{TimePoint::max()};
};

}  // namespace af::core
