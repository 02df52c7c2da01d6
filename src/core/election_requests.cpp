// Requests to the election core: an operator's switchover or terminate command, and shutdown.
#include "af/core/election.hpp"

namespace af::core {

void Election::hand_over(std::optional<std::string> to) {
    term_.giving_up = true;
    term_.reserve_for = std::move(to);
    cooldown_until_ = now_ + cfg_.handover_cooldown;
}

void Election::on(const ev::switchover& e) {
    auto done = [&](const std::string& result) {
        if (e.command_id)
            emit(act::command_done{e.command_id, result});
    };
    if (!holding() || term_.giving_up || stopping_) {
        done("refused: " + node_id_ + " is not the active node");
        return;
    }
    if (paused()) {
        done(refused_while_paused());
        return;
    }
    if (e.target && *e.target == node_id_) {
        done("refused: " + node_id_ + " is already active");
        return;
    }
    if (e.target && cfg_.heartbeats()) {
        auto it = peers_.find(*e.target);
        if (!heard(*e.target) || !it->second.standby || !it->second.healthy) {
            done("refused: target " + *e.target + " is not heard as a healthy standby");
            note(EventKind::switchover_refused,
                 "target " + *e.target + " is not a healthy standby");
            return;
        }
    }
    hand_over(e.target);
    const std::string to = e.target.value_or("the best standby");
    note(EventKind::switchover, "planned hand-over to " + to + ", requested by " + e.requested_by);
    done("accepted: stopping processes and releasing to " + to);
}

void Election::on(const ev::process_terminate& e) {
    if (paused()) {
        if (e.command_id)
            emit(act::command_done{e.command_id, refused_while_paused()});
        return;
    }
    auto it = procs_.find(e.name);
    if (it == procs_.end() || it->second.state == ProcState::stopped || !holding()) {
        if (e.command_id)
            emit(act::command_done{e.command_id, "refused: " + e.name + " is not running on " +
                                                     node_id_ + " or it is not active"});
        return;
    }
    Proc& p = it->second;
    emit(act::kill_process{e.name});
    p.state = ProcState::stopping;
    p.killed = true;
    p.frozen = false;
    hand_over();
    note(EventKind::terminate_requested,
         "killed " + e.name + " on request of " + e.requested_by + "; handing the lease over");
    if (e.command_id)
        emit(act::command_done{e.command_id, "done: killed " + e.name + " on " + node_id_});
}

void Election::on(const ev::process_restart& e) {
    auto done = [&](const std::string& result) {
        if (e.command_id)
            emit(act::command_done{e.command_id, result});
    };
    if (paused()) {
        // Nothing is started while paused: a stop now would leave the process down.
        done(refused_while_paused());
        return;
    }
    auto it = procs_.find(e.name);
    if (it == procs_.end() || it->second.state != ProcState::running || !holding() ||
        term_.giving_up || stopping_) {
        done("refused: " + e.name + " is not running on " + node_id_ + " or it is not active");
        return;
    }
    // A stop the node asked for itself: process_exited then counts no crash, and
    // reconcile_processes starts it again at once since the term still wants it.
    Proc& p = it->second;
    p.state = ProcState::stopping;
    p.kill_at = now_ + p.policy.stop_timeout;
    p.restart_at = now_;
    emit(act::stop_process{e.name});
    if (p.frozen)
        emit(act::thaw_process{e.name});
    p.frozen = false;
    note(EventKind::restart_requested,
         "stopping " + e.name + " on request of " + e.requested_by + "; starting it again");
    done("done: restarting " + e.name + " on " + node_id_);
}

void Election::on(const ev::stop_requested& e) {
    if (stopping_)
        return;
    stopping_ = true;
    if (term_.id != 0)
        term_.giving_up = true;
    note(EventKind::shutdown, e.reason);
}

}  // namespace af::core
