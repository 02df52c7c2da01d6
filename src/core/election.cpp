#include "af/core/election.hpp"

#include <algorithm>
#include <utility>

namespace af::core {

using namespace std::chrono_literals;

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

namespace {

Duration restart_backoff(const ElectionConfig& cfg, std::size_t crashes) {
    Duration d = cfg.restart_backoff_initial;
    for (std::size_t i = 1; i < crashes && d < cfg.restart_backoff_max; ++i)
        d *= 2;
    return std::min(d, cfg.restart_backoff_max);
}

std::string term_text(std::int64_t term) {
    return "term " + std::to_string(term);
}

}  // namespace

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
    return term_ != 0 && !lease_lost_ && now_ < lease_deadline_ ? Role::active : Role::standby;
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
    return term_ != 0 && !lease_lost_ && now_ < lease_deadline_;
}

bool Election::may_run() const {
    return holding() && !giving_up_ && !stopping_ && !gated() &&
           !(paused() && pause_.stop_processes);
}

bool Election::renewal_late() const {
    return now_ >= lease_deadline_ - cfg_.fence_lead();
}

bool Election::want_processes() const {
    return may_run() && !renewal_late();
}

void Election::note(std::string kind, std::string detail) {
    emit(act::record{std::move(kind), std::move(detail), term_});
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
    if (term_ == 0)
        return;
    if (!lease_lost_ && now_ < lease_deadline_ - cfg_.kill_grace)
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
    if (killed_any && !fenced_ && !lease_lost_) {
        fenced_ = true;
        note("fenced",
             "no renewal confirmed in time; killed the processes before the lease "
             "could expire");
    }
}

void Election::set_deadline(TimePoint sent_at) {
    // The database set expires_at >= (time it ran the statement) + ttl, and it ran it after we
    // sent it, so sent_at + ttl - margin is earlier than the real expiry by at least the margin.
    const TimePoint candidate = sent_at + cfg_.ttl - cfg_.fence_margin;
    if (candidate <= lease_deadline_)
        return;
    lease_deadline_ = candidate;
    emit(act::arm_guard{term_, lease_deadline_});
}

void Election::on(const ev::acquire_result& e) {
    acquire_in_flight_ = false;
    seen_term(e.term);
    if (term_ != 0)
        return;  // a late duplicate
    if (stopping_ && e.won) {
        // Won while shutting down: hold it just long enough to give it straight back (the
        // normal release path below, which waits for the reply before exiting).
        term_ = e.term;
        lease_deadline_ = TimePoint{};
        set_deadline(e.sent_at);
        giving_up_ = true;
        note("became_active", "won the lease in " + term_text(term_) + " while stopping");
        return;
    }
    if (stopping_)
        return;
    if (!e.won) {
        if (e.holder && heard(*e.holder) && peers_.at(*e.holder).active) {
            // The holder's heartbeats arrive: it is renewing. Ask rarely; its silence or its
            // release brings us back sooner.
            watch_holder_ = e.holder;
            next_acquire_ = now_ + cfg_.slow_poll;
        } else {
            // Ask again just after the holder's lease would expire, but at least every poll.
            watch_holder_.reset();
            next_acquire_ = now_ + std::clamp(e.remaining + 10ms, Duration{20}, cfg_.poll_interval);
        }
        return;
    }
    watch_holder_.reset();
    term_ = e.term;
    lease_lost_ = giving_up_ = fenced_ = renew_failing_ = false;
    renew_in_flight_ = release_in_flight_ = false;
    lease_deadline_ = TimePoint{};
    set_deadline(e.sent_at);
    last_renew_sent_ = e.sent_at;
    next_renew_ = e.sent_at + cfg_.renew_interval;
    for (auto& [name, p] : procs_) {
        p.crashes.clear();
        p.restart_at = TimePoint{};
    }
    note("became_active", "won the lease in " + term_text(term_));
    open_gates(e);
}

void Election::open_gates(const ev::acquire_result& e) {
    previous_holder_ = e.previous_holder;
    promoted_ = false;
    takeover_pending_ = pre_promote_pending_ = false;
    if (cfg_.takeover) {
        if (!e.previous_holder.empty()) {
            // Winning needs a released lease or one expired on the database clock, so the
            // previous holder has stopped its processes (or its guard did, or its deadline
            // passed long before); its Airflow jobs are dead and can be closed out at once. That
            // holds for this node's own previous term too: every process stops before a new
            // acquire.
            takeover_pending_ = true;
            takeover_until_ = now_ + cfg_.takeover_timeout;
            emit(act::take_over{term_, e.previous_holder});
        } else if (term_ > 1) {
            note("takeover_skipped",
                 "the holder of " + term_text(term_ - 1) +
                     " is not known (it changed while we acquired, or the lease row predates "
                     "schema version 3); Airflow's orphan check will reset its tasks");
        }
    }
    if (cfg_.pre_promote) {
        pre_promote_pending_ = true;
        pre_promote_until_ = now_ + cfg_.pre_promote_timeout;
        emit(act::run_pre_promote{term_, e.previous_holder});
    }
}

void Election::on(const ev::takeover_result& e) {
    if (!takeover_pending_ || e.term != term_)
        return;  // late (the timeout went first) or about an older term
    takeover_pending_ = false;
    note(e.ok ? "takeover" : "takeover_failed",
         e.ok ? e.detail
              : e.detail + "; starting anyway (Airflow's own orphan check is the fallback)");
}

void Election::on(const ev::hook_result& e) {
    if (!pre_promote_pending_ || e.term != term_)
        return;
    pre_promote_pending_ = false;
    if (e.ok)
        note("pre_promote_passed", e.detail);
    else
        veto(e.detail);
}

void Election::veto(const std::string& why) {
    // Let the others go first: release at once (announced, so a standby tries now) and stay
    // out for the hand-over cooldown. A node that always vetoes thus only ever holds the lease
    // for the hook's run time, once per cooldown, and any other node can take it in between.
    giving_up_ = true;
    cooldown_until_ = now_ + cfg_.handover_cooldown;
    note("promotion_vetoed", "hooks.pre_promote: " + why + "; releasing the lease, next try in " +
                                 std::to_string(cfg_.handover_cooldown.count()) +
                                 " ms at the earliest");
}

void Election::check_gates() {
    if (term_ == 0)
        return;
    if (takeover_pending_ && now_ >= takeover_until_) {
        takeover_pending_ = false;
        note("takeover_failed", "no answer within " +
                                    std::to_string(cfg_.takeover_timeout.count()) +
                                    " ms; starting anyway (Airflow's own orphan check is the "
                                    "fallback)");
    }
    if (pre_promote_pending_ && now_ >= pre_promote_until_) {
        pre_promote_pending_ = false;
        veto("no answer within " + std::to_string(cfg_.pre_promote_timeout.count()) + " ms");
    }
    if (!promoted_ && want_processes()) {
        promoted_ = true;
        if (cfg_.role_change_hook)
            emit(act::role_change{"promote", "active", term_, previous_holder_});
    }
}

void Election::on(const ev::renew_result& e) {
    if (term_ == 0 || e.term != term_)
        return;  // a reply about an older term
    renew_in_flight_ = false;
    if (!e.ok) {
        if (!lease_lost_) {
            lease_lost_ = true;
            note("lease_lost",
                 "the database refused to renew " + term_text(term_) + " (expired or taken)");
        }
        return;
    }
    if (now_ >= lease_deadline_)
        return;  // too late: the term is over locally
    last_renew_sent_ = std::max(last_renew_sent_, e.sent_at);
    set_deadline(e.sent_at);
    next_renew_ = e.sent_at + cfg_.renew_interval;
    if (renew_failing_) {
        renew_failing_ = false;
        note("renew_recovered", "lease renewals succeed again");
    }
}

void Election::on(const ev::release_result& e) {
    if (!release_in_flight_ || e.term != term_)
        return;
    note(e.released ? "released" : "release_noop",
         e.released ? "released the lease" : "the lease was no longer ours to release");
    finish_term();
}

void Election::on(const ev::db_failure& e) {
    switch (e.op) {
        case ev::db_op::acquire:
            acquire_in_flight_ = false;
            next_acquire_ = now_ + cfg_.poll_interval;
            break;
        case ev::db_op::renew:
            if (e.term != term_)
                return;
            renew_in_flight_ = false;
            next_renew_ = now_ + cfg_.renew_interval / 4;
            if (!renew_failing_) {
                renew_failing_ = true;
                note("renew_failing", e.what);
            }
            break;
        case ev::db_op::release:
            if (release_in_flight_ && e.term == term_) {
                note("release_failed", e.what + "; the lease will expire by itself");
                finish_term();
            }
            break;
    }
}

void Election::on(const ev::lease_hint& e) {
    if (term_ != 0)
        return;
    watch_holder_.reset();
    if (e.reserved_for == node_id_)
        next_acquire_ = now_;  // a switchover chose us: nobody else can take it
    else if (e.reserved_for.empty())
        // The best standby goes first; the others follow in case it cannot.
        next_acquire_ = now_ + cfg_.rank_delay * rank();
}

bool Election::heard(const std::string& node) const {
    auto it = peers_.find(node);
    return cfg_.heartbeats && it != peers_.end() &&
           now_ - it->second.last_heard < cfg_.miss_window();
}

int Election::rank() const {
    int better = 0;
    for (const auto& [id, p] : peers_) {
        if (!heard(id) || !p.standby || !p.healthy)
            continue;
        if (p.priority > cfg_.priority || (p.priority == cfg_.priority && id < node_id_))
            ++better;
    }
    return better;
}

void Election::on(const ev::peer_heartbeat& e) {
    if (e.node == node_id_)
        return;
    seen_term(e.term);
    Peer& p = peers_[e.node];
    const bool qualifies = e.standby && e.healthy && e.priority > cfg_.priority;
    if (!qualifies || !heard(e.node))
        p.qualifies_since = TimePoint::max();
    p.last_heard = now_;
    p.active = e.active;
    p.standby = e.standby;
    p.healthy = e.healthy;
    p.priority = e.priority;
    p.term = e.term;
    if (qualifies && p.qualifies_since == TimePoint::max())
        p.qualifies_since = now_;
    if (e.releasing)
        on(ev::lease_hint{});
    else if (term_ == 0 && !e.active && watch_holder_ == e.node) {
        // The holder we watch says it is no longer active: it passed its deadline without a
        // renewal (cut off from the database, say) and has killed its processes. Its lease is
        // about to expire, so read it now rather than at the next slow poll.
        watch_holder_.reset();
        next_acquire_ = std::min(next_acquire_, now_);
    }
}

void Election::check_failback() {
    if (!cfg_.failback || !holding() || giving_up_ || stopping_ || paused())
        return;
    for (const auto& [id, p] : peers_) {
        if (!heard(id) || p.qualifies_since == TimePoint::max())
            continue;
        if (now_ - p.qualifies_since < cfg_.failback_delay)
            continue;
        giving_up_ = true;
        reserve_for_ = id;
        cooldown_until_ = now_ + cfg_.handover_cooldown;
        note("failback", "handing the lease to " + id + ", which has a higher priority (" +
                             std::to_string(p.priority) + " > " + std::to_string(cfg_.priority) +
                             ")");
        return;
    }
}

void Election::on(const ev::switchover& e) {
    auto done = [&](const std::string& result) {
        if (e.command_id)
            emit(act::command_done{e.command_id, result});
    };
    if (!holding() || giving_up_ || stopping_) {
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
    if (e.target && cfg_.heartbeats) {
        auto it = peers_.find(*e.target);
        if (!heard(*e.target) || !it->second.standby || !it->second.healthy) {
            done("refused: target " + *e.target + " is not heard as a healthy standby");
            note("switchover_refused", "target " + *e.target + " is not a healthy standby");
            return;
        }
    }
    giving_up_ = true;
    reserve_for_ = e.target;
    cooldown_until_ = now_ + cfg_.handover_cooldown;
    note("switchover", "planned hand-over to " + e.target.value_or("the best standby") +
                           ", requested by " + e.requested_by);
    done("accepted: stopping processes and releasing to " + e.target.value_or("the best standby"));
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
        note("process_stopped", e.name + " " + e.how);
        return;
    }
    if (was != ProcState::running && !unhealthy)
        return;
    if (paused()) {
        // Maintenance: the operator may be restarting it by hand; neither restart it nor count
        // a crash. Resume starts it again if it is still down.
        note("process_exited", e.name + " " + e.how + "; not restarted: the cluster is paused");
        return;
    }
    note("process_exited",
         e.name + " " + e.how + (unhealthy ? " (killed: unhealthy)" : " unexpectedly"));
    p.crashes.push_back(now_);
    while (!p.crashes.empty() && p.crashes.front() + cfg_.crash_loop_window < now_)
        p.crashes.pop_front();
    if (!holding() || giving_up_)
        return;
    if (static_cast<int>(p.crashes.size()) >= cfg_.crash_loop_limit) {
        giving_up_ = true;
        cooldown_until_ = now_ + cfg_.handover_cooldown;
        note("crash_loop", e.name + " crashed " + std::to_string(p.crashes.size()) +
                               " times; handing the lease over");
        return;
    }
    const Duration backoff = restart_backoff(cfg_, p.crashes.size());
    p.restart_at = now_ + backoff;
    note("restart_scheduled",
         e.name + " restarts in place in " + std::to_string(backoff.count()) + " ms");
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
    giving_up_ = true;
    cooldown_until_ = now_ + cfg_.handover_cooldown;
    note("terminate_requested",
         "killed " + e.name + " on request of " + e.requested_by + "; handing the lease over");
    if (e.command_id)
        emit(act::command_done{e.command_id, "done: killed " + e.name + " on " + node_id_});
}

void Election::on(const ev::process_unhealthy& e) {
    auto it = procs_.find(e.name);
    if (it == procs_.end() || it->second.state != ProcState::running)
        return;
    if (paused()) {
        note("health_ignored", e.name + ": " + e.why + "; not killed: the cluster is paused");
        return;
    }
    if (it->second.frozen) {
        // We froze it ourselves while a renewal is late: a check that timed out says nothing.
        note("health_ignored", e.name + ": " + e.why + "; not killed: frozen by us");
        return;
    }
    Proc& p = it->second;
    note("health_failed", e.name + ": " + e.why + "; killing it");
    emit(act::kill_process{e.name});
    p.state = ProcState::stopping;
    p.killed = true;
    p.count_as_crash = true;
}

void Election::on(const ev::stop_requested& e) {
    if (stopping_)
        return;
    stopping_ = true;
    if (term_ != 0)
        giving_up_ = true;
    note("shutdown", e.reason);
}

void Election::finish_term() {
    release_in_flight_ = false;
    note("stepped_down", "left " + term_text(term_));
    if (promoted_ && cfg_.role_change_hook)
        emit(act::role_change{"demote", stopping_ ? "stopped" : "standby", term_, ""});
    promoted_ = takeover_pending_ = pre_promote_pending_ = false;
    previous_holder_.clear();
    term_ = 0;
    reserve_for_.reset();
    lease_lost_ = giving_up_ = fenced_ = renew_failing_ = renew_in_flight_ = false;
    lease_deadline_ = TimePoint{};
    next_acquire_ = std::max(next_acquire_, now_);
}

void Election::reconcile() {
    check_pause_expiry();
    check_failback();
    if (holding()) {
        if (renew_in_flight_ && now_ >= renew_sent_ + cfg_.renew_interval) {
            renew_in_flight_ = false;  // no answer in time; the shell coalesces duplicates
            if (!renew_failing_) {
                renew_failing_ = true;
                note("renew_failing", "no answer to a renewal within " +
                                          std::to_string(cfg_.renew_interval.count()) + " ms");
            }
        }
        if (!renew_in_flight_ && !release_in_flight_ && now_ >= next_renew_) {
            emit(act::renew{term_});
            renew_in_flight_ = true;
            renew_sent_ = now_;
            next_renew_ = now_ + cfg_.renew_interval;
        }
    }
    check_gates();
    reconcile_processes();

    if (term_ != 0 && (lease_lost_ || now_ >= lease_deadline_ || giving_up_) && all_stopped()) {
        if (lease_lost_) {
            emit(act::disarm_guard{});
            finish_term();
        } else if (!release_in_flight_) {
            emit(act::disarm_guard{});
            emit(act::release{term_, reserve_for_.value_or("")});
            release_in_flight_ = true;
            release_sent_ = now_;
        } else if (now_ >= release_sent_ + cfg_.release_timeout) {
            note("release_failed", "no answer to the release; the lease will expire by itself");
            finish_term();
        }
    }

    reconcile_warm();  // after a term has ended here, so a standby warms up at once

    if (term_ != 0 || !all_stopped())
        return;
    if (stopping_) {
        // An acquire still in flight may have won: wait for its answer (at most a poll) so a
        // won lease is released rather than left to expire.
        if (acquire_in_flight_ && now_ < acquire_sent_ + cfg_.poll_interval)
            return;
        emit(act::exit{0});
        exited_ = true;
        return;
    }
    if (acquire_in_flight_ && now_ >= acquire_sent_ + cfg_.poll_interval)
        acquire_in_flight_ = false;
    if (watch_holder_ && !heard(*watch_holder_)) {
        // The active went silent: stop trusting it and read the lease now.
        watch_holder_.reset();
        next_acquire_ = std::min(next_acquire_, now_);
    }
    if (!cfg_.nofailover && !paused() && !acquire_in_flight_ && now_ >= next_acquire_ &&
        now_ >= cooldown_until_) {
        emit(act::try_acquire{highest_term_seen_});
        acquire_in_flight_ = true;
        acquire_sent_ = now_;
        next_acquire_ = now_ + cfg_.poll_interval;
    }
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
                        emit(act::start_process{name, term_});
                        note("process_started", name);
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
        note("processes_frozen", frozen + ": no renewal confirmed for " +
                                     std::to_string((cfg_.ttl - cfg_.fence_margin).count() / 2) +
                                     " ms; killed at the deadline unless one arrives");
    if (!thawed.empty())
        note("processes_thawed", thawed + ": the renewal arrived; going on where they were");
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
    if (term_ != 0) {
        if (alive)
            at(lease_deadline_ - cfg_.kill_grace);
        at(lease_deadline_);
        if (holding()) {
            at(renew_in_flight_ ? renew_sent_ + cfg_.renew_interval : next_renew_);
            if (alive)
                at(lease_deadline_ - cfg_.fence_lead());
        }
        if (release_in_flight_)
            at(release_sent_ + cfg_.release_timeout);
        if (holding() && takeover_pending_)
            at(takeover_until_);
        if (holding() && pre_promote_pending_)
            at(pre_promote_until_);
    }
    const bool want = want_processes();
    for (const auto& [name, p] : procs_) {
        if (p.state == ProcState::stopping && !p.killed)
            at(p.kill_at);
        if (p.state == ProcState::stopped && want)
            at(p.restart_at);
    }
    if (term_ == 0 && stopping_ && acquire_in_flight_)
        at(acquire_sent_ + cfg_.poll_interval);
    if (term_ == 0 && !stopping_ && !alive) {
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
    if (cfg_.failback && holding() && !giving_up_)
        for (const auto& [id, p] : peers_)
            if (p.qualifies_since != TimePoint::max())
                at(p.qualifies_since + cfg_.failback_delay);
    return std::min(t, next_warm_wakeup());
}

}  // namespace af::core
