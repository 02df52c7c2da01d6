// Managed processes in the election core: start them while the term wants them, stop them
// (graceful, then kill) when it does not, restart in place after a crash with backoff, and hand
// the lease over on a crash loop.
#include <algorithm>

#include "af/core/election.hpp"

namespace af::core {

Duration restart_backoff(const SupervisionPolicy& s, std::size_t crashes) {
    Duration d = s.restart_backoff_initial;
    for (std::size_t i = 1; i < crashes && d < s.restart_backoff_max; ++i)
        d *= 2;
    return std::min(d, s.restart_backoff_max);
}

void Election::on(const ev::process_exited& e) {
    auto it = procs_.find(e.name);
    if (it == procs_.end())
        return;
    Proc& p = it->second;
    const ProcState was = p.state;
    p.state = ProcState::stopped;
    p.killed = false;
    p.frozen = false;
    p.kill_at = TimePoint::max();
    const bool unhealthy = p.count_as_crash;
    p.count_as_crash = false;
    if (was == ProcState::stopping && !unhealthy) {
        note(EventKind::process_stopped, e.name + " " + e.how);
        return;
    }
    if (was != ProcState::running && !unhealthy)
        return;
    if (paused()) {
        // Maintenance: the operator may be restarting it by hand; neither restart it nor count
        // a crash. Resume starts it again if it is still down.
        note(EventKind::process_exited,
             e.name + " " + e.how + "; not restarted: the cluster is paused");
        return;
    }
    note(EventKind::process_exited,
         e.name + " " + e.how + (unhealthy ? " (killed: unhealthy)" : " unexpectedly"));
    p.crashes.push_back(now_);
    while (!p.crashes.empty() && p.crashes.front() + cfg_.crash_loop_window < now_)
        p.crashes.pop_front();
    if (!holding() || term_.giving_up)
        return;
    if (static_cast<int>(p.crashes.size()) >= cfg_.crash_loop_limit) {
        hand_over();
        note(EventKind::crash_loop, e.name + " crashed " + std::to_string(p.crashes.size()) +
                                        " times; handing the lease over");
        return;
    }
    const Duration backoff = restart_backoff(cfg_, p.crashes.size());
    p.restart_at = now_ + backoff;
    note(EventKind::restart_scheduled,
         e.name + " restarts in place in " + std::to_string(backoff.count()) + " ms");
}

void Election::on(const ev::process_unhealthy& e) {
    auto it = procs_.find(e.name);
    if (it == procs_.end() || it->second.state != ProcState::running)
        return;
    if (paused()) {
        note(EventKind::health_ignored,
             e.name + ": " + e.why + "; not killed: the cluster is paused");
        return;
    }
    if (it->second.frozen) {
        // We froze it ourselves while a renewal is late: a check that timed out says nothing.
        note(EventKind::health_ignored, e.name + ": " + e.why + "; not killed: frozen by us");
        return;
    }
    Proc& p = it->second;
    note(EventKind::health_failed, e.name + ": " + e.why + "; killing it");
    emit(act::kill_process{e.name});
    p.state = ProcState::stopping;
    p.killed = true;
    p.count_as_crash = true;
}

void Election::reconcile_processes() {
    const bool want = want_processes();
    // Only the renewal is late: freeze rather than stop. A late renewal that then arrives costs
    // a pause instead of a restart; one that does not ends in the kill at the deadline.
    const bool freeze = !want && may_run();
    std::string frozen, thawed;
    auto add = [](std::string& list, const std::string& name) {
        list += (list.empty() ? "" : ", ") + name;
    };
    for (auto& [name, p] : procs_) {
        switch (p.state) {
            case ProcState::stopped:
                if (want && !paused() && now_ >= p.restart_at) {
                    if (!start_warm(name, p)) {
                        emit(act::start_process{name, term_.id});
                        note(EventKind::process_started, name);
                    }
                    p.state = ProcState::running;
                }
                break;
            case ProcState::running:
                if (want && p.frozen) {
                    emit(act::thaw_process{name});
                    p.frozen = false;
                    add(thawed, name);
                } else if (freeze && !p.frozen) {
                    emit(act::freeze_process{name});
                    p.frozen = true;
                    add(frozen, name);
                } else if (!want && !freeze) {
                    // The stop timeout is the process's own; the lease deadline is enforced
                    // separately (enforce_deadline), against the deadline as renewals move it.
                    const TimePoint kill_at = holding() ? now_ + p.policy.stop_timeout : now_;
                    p.state = ProcState::stopping;
                    p.kill_at = kill_at;
                    if (kill_at <= now_) {
                        emit(act::kill_process{name});
                        p.killed = true;
                    } else {
                        emit(act::stop_process{name});
                        if (p.frozen)  // the SIGTERM waits in the stopped process until SIGCONT
                            emit(act::thaw_process{name});
                    }
                    p.frozen = false;
                }
                break;
            case ProcState::stopping:
                if (!p.killed && now_ >= p.kill_at) {
                    emit(act::kill_process{name});
                    p.killed = true;
                }
                break;
        }
    }
    if (!frozen.empty())
        note(EventKind::processes_frozen,
             frozen + ": no renewal confirmed for " +
                 std::to_string((cfg_.ttl - cfg_.fence_margin).count() / 2) +
                 " ms; killed at the deadline unless one arrives");
    if (!thawed.empty())
        note(EventKind::processes_thawed,
             thawed + ": the renewal arrived; going on where they were");
}

}  // namespace af::core
