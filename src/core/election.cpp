// The election core's step: the deadline first, then the event, then the reconciliation of what
// is wanted with what is, then the next instant to wake at. The event handlers live in the
// files named in election.hpp.
#include "af/core/election.hpp"

#include <algorithm>
#include <utility>

namespace af::core {

const char* to_string(Role r) {
    switch (r) {
        case Role::standby:
            return "standby";
        case Role::active:
            return "active";
        case Role::stopping:
            return "stopping";
        case Role::stopped:
            return "stopped";
        case Role::nofailover:
            return "nofailover";
    }
    return "?";
}

const char* to_string(RoleChange c) {
    return c == RoleChange::promote ? "promote" : "demote";
}

const char* to_string(ProcState s) {
    switch (s) {
        case ProcState::stopped:
            return "stopped";
        case ProcState::running:
            return "running";
        case ProcState::stopping:
            return "stopping";
    }
    return "?";
}

Duration ElectionConfig::fence_lead() const {
    // Half of what is left after the margin: a renewal that is late by more than that is
    // probably in trouble, so the processes stop making decisions (frozen), but the other half
    // is still there for it to arrive, and then they go on where they were.
    return std::max((ttl - fence_margin) / 2, 2 * kill_grace);
}

Election::Election(ElectionConfig cfg, std::string node_id)
    : cfg_(std::move(cfg)), node_id_(std::move(node_id)) {
    for (const auto& p : cfg_.processes) {
        Proc proc;
        proc.policy = p;
        procs_[p.name] = std::move(proc);
    }
}

Role Election::role() const {
    if (exited_)
        return Role::stopped;
    if (stopping_)
        return Role::stopping;
    if (cfg_.nofailover)
        return Role::nofailover;
    return holding() ? Role::active : Role::standby;
}

ProcState Election::process_state(const std::string& name) const {
    auto it = procs_.find(name);
    return it == procs_.end() ? ProcState::stopped : it->second.state;
}

bool Election::any_process_alive() const {
    return !all_stopped();
}

bool Election::all_stopped() const {
    return std::all_of(procs_.begin(), procs_.end(),
                       [](const auto& kv) { return kv.second.state == ProcState::stopped; });
}

bool Election::holding() const {
    return term_.id != 0 && !term_.lease_lost && now_ < term_.deadline;
}

bool Election::may_run() const {
    return holding() && !term_.giving_up && !stopping_ && !gated() &&
           !(paused() && pause_.stop_processes);
}

bool Election::renewal_late() const {
    return now_ >= term_.deadline - cfg_.fence_lead();
}

bool Election::want_processes() const {
    return may_run() && !renewal_late();
}

void Election::note(EventKind kind, std::string detail) {
    emit(act::record{std::string(to_string(kind)), std::move(detail), term_.id});
}

Ready Election::step(const Event& e, TimePoint now) {
    out_ = Ready{};
    if (exited_)
        return std::move(out_);
    now_ = std::max(now_, now);  // the boot clock never goes back; a fake one must not either
    // The deadline comes before the event: after a long pause (SIGSTOP, suspend) the first
    // thing done is the kill, whatever woke us.
    enforce_deadline();
    std::visit([this](const auto& x) { on(x); }, e);
    enforce_deadline();
    reconcile();
    out_.next_wakeup = next_wakeup();
    return std::move(out_);
}

void Election::enforce_deadline() {
    if (term_.id == 0)
        return;
    if (!term_.lease_lost && now_ < term_.deadline - cfg_.kill_grace)
        return;
    bool killed_any = false;
    for (auto& [name, p] : procs_) {
        if (p.state == ProcState::stopped || p.killed)
            continue;
        emit(act::kill_process{name});
        p.state = ProcState::stopping;
        p.killed = true;
        p.frozen = false;  // SIGKILL ends a stopped process too
        killed_any = true;
    }
    if (killed_any && !term_.fenced && !term_.lease_lost) {
        term_.fenced = true;
        note(EventKind::fenced,
             "no renewal confirmed in time; killed the processes before the lease "
             "could expire");
    }
}

void Election::reconcile() {
    check_pause_expiry();
    check_failback();
    reconcile_renewal();
    check_gates();
    reconcile_processes();
    reconcile_release();
    reconcile_warm();  // after a term has ended here, so a standby warms up at once
    reconcile_acquire();
}

TimePoint Election::next_wakeup() const {
    if (exited_)
        return TimePoint::max();
    TimePoint t = TimePoint::max();
    // Anything due by now was acted on in this step or waits for an event, not for time; only
    // future instants may wake us, or the shell would spin.
    auto at = [&](TimePoint c) {
        if (c > now_)
            t = std::min(t, c);
    };
    const bool alive = !all_stopped();
    if (term_.id != 0) {
        if (alive)
            at(term_.deadline - cfg_.kill_grace);
        at(term_.deadline);
        if (holding()) {
            at(term_.renew_in_flight ? term_.renew_sent + cfg_.renew_interval : term_.next_renew);
            if (alive)
                at(term_.deadline - cfg_.fence_lead());
        }
        if (term_.release_in_flight)
            at(term_.release_sent + cfg_.release_timeout);
        if (holding() && term_.takeover_pending)
            at(term_.takeover_until);
        if (holding() && term_.pre_promote_pending)
            at(term_.pre_promote_until);
    }
    const bool want = want_processes();
    for (const auto& [name, p] : procs_) {
        if (p.state == ProcState::stopping && !p.killed)
            at(p.kill_at);
        if (p.state == ProcState::stopped && want)
            at(p.restart_at);
    }
    if (term_.id == 0 && stopping_ && acquire_in_flight_)
        at(acquire_sent_ + cfg_.poll_interval);
    if (term_.id == 0 && !stopping_ && !alive) {
        at(acquire_in_flight_ ? acquire_sent_ + cfg_.poll_interval
                              : std::max(next_acquire_, cooldown_until_));
        if (watch_holder_) {
            auto it = peers_.find(*watch_holder_);
            if (it != peers_.end())
                at(it->second.last_heard + cfg_.miss_window());
        }
    }
    if (pause_.on && pause_until_ != TimePoint::max())
        at(pause_until_);
    if (cfg_.failback && holding() && !term_.giving_up)
        for (const auto& [id, p] : peers_)
            if (p.qualifies_since != TimePoint::max())
                at(p.qualifies_since + cfg_.failback_delay);
    return std::min(t, next_warm_wakeup());
}

}  // namespace af::core
