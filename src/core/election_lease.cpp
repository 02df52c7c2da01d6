// The lease in the election core: acquire, renew and release, and the term they open and close.
#include <algorithm>

#include "af/core/election.hpp"
#include "af/util/check.hpp"

namespace af::core {

using namespace std::chrono_literals;

namespace {

std::string term_text(std::int64_t term) {
    return "term " + std::to_string(term);
}

}  // namespace

void Election::set_deadline(TimePoint sent_at) {
    // The database set expires_at >= (time it ran the statement) + ttl, and it ran it after we
    // sent it, so sent_at + ttl - margin is earlier than the real expiry by at least the margin.
    const TimePoint candidate = sent_at + cfg_.ttl - cfg_.fence_margin;
    if (candidate <= term_.deadline)
        return;
    term_.deadline = candidate;
    emit(act::arm_guard{term_.id, term_.deadline});
}

void Election::begin_term(std::int64_t id, TimePoint sent_at) {
    // The safety rule this whole core rests on: a new term only when every process is dead.
    AF_CHECK(term_.id == 0 && all_stopped(), "won term " + std::to_string(id) + " while in term " +
                                                 std::to_string(term_.id) +
                                                 (all_stopped() ? "" : " with a process alive"));
    term_ = TermState{};
    term_.id = id;
    set_deadline(sent_at);
    term_.next_renew = sent_at + cfg_.renew_interval;
}

void Election::on(const ev::acquire_result& e) {
    acquire_in_flight_ = false;
    seen_term(e.term);
    if (term_.id != 0)
        return;  // a late duplicate
    if (stopping_ && e.won) {
        // Won while shutting down: hold it just long enough to give it straight back (the
        // normal release path, which waits for the reply before exiting).
        begin_term(e.term, e.sent_at);
        term_.giving_up = true;
        note(EventKind::became_active,
             "won the lease in " + term_text(term_.id) + " while stopping");
        return;
    }
    if (stopping_)
        return;
    if (!e.won) {
        if (e.holder && heard(*e.holder) && peers_.at(*e.holder).active) {
            // The holder's heartbeats arrive: it is renewing. Ask rarely; its silence or its
            // release brings us back sooner.
            watch_holder_ = e.holder;
            next_acquire_ = now_ + cfg_.heartbeat->slow_poll;
        } else {
            // Ask again just after the holder's lease would expire, but at least every poll.
            watch_holder_.reset();
            next_acquire_ = now_ + std::clamp(e.remaining + 10ms, Duration{20}, cfg_.poll_interval);
        }
        return;
    }
    watch_holder_.reset();
    begin_term(e.term, e.sent_at);
    for (auto& [name, p] : procs_) {
        p.crashes.clear();
        p.restart_at = TimePoint{};
    }
    note(EventKind::became_active, "won the lease in " + term_text(term_.id));
    open_gates(e);
}

void Election::on(const ev::renew_result& e) {
    if (term_.id == 0 || e.term != term_.id)
        return;  // a reply about an older term
    term_.renew_in_flight = false;
    if (!e.ok) {
        if (!term_.lease_lost) {
            term_.lease_lost = true;
            note(EventKind::lease_lost,
                 "the database refused to renew " + term_text(term_.id) + " (expired or taken)");
        }
        return;
    }
    if (now_ >= term_.deadline)
        return;  // too late: the term is over locally
    set_deadline(e.sent_at);
    term_.next_renew = e.sent_at + cfg_.renew_interval;
    if (term_.renew_failing) {
        term_.renew_failing = false;
        note(EventKind::renew_recovered, "lease renewals succeed again");
    }
}

void Election::on(const ev::release_result& e) {
    if (!term_.release_in_flight || e.term != term_.id)
        return;
    note(e.released ? EventKind::released : EventKind::release_noop,
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
            if (e.term != term_.id)
                return;
            term_.renew_in_flight = false;
            term_.next_renew = now_ + cfg_.renew_interval / 4;
            if (!term_.renew_failing) {
                term_.renew_failing = true;
                note(EventKind::renew_failing, e.what);
            }
            break;
        case ev::db_op::release:
            if (term_.release_in_flight && e.term == term_.id) {
                note(EventKind::release_failed, e.what + "; the lease will expire by itself");
                finish_term();
            }
            break;
    }
}

void Election::on(const ev::lease_hint& e) {
    if (term_.id != 0 || now_ < hint_quiet_until_)
        return;
    hint_quiet_until_ = now_ + cfg_.poll_interval;
    watch_holder_.reset();
    if (e.reserved_for == node_id_)
        next_acquire_ = now_;  // a switchover chose us: nobody else can take it
    else if (e.reserved_for.empty())
        // The best standby goes first; the others follow in case it cannot.
        next_acquire_ = now_ + cfg_.rank_delay * rank();
}

void Election::finish_term() {
    AF_CHECK(term_.id != 0, "a term ended that never began");
    note(EventKind::stepped_down, "left " + term_text(term_.id));
    if (term_.promoted && cfg_.role_change_hook)
        emit(act::role_change{RoleChange::demote, stopping_ ? Role::stopped : Role::standby,
                              term_.id, ""});
    term_ = TermState{};
    next_acquire_ = std::max(next_acquire_, now_);
}

void Election::reconcile_renewal() {
    if (!holding())
        return;
    if (term_.renew_in_flight && now_ >= term_.renew_sent + cfg_.renew_interval) {
        term_.renew_in_flight = false;  // no answer in time; the shell coalesces duplicates
        if (!term_.renew_failing) {
            term_.renew_failing = true;
            note(EventKind::renew_failing, "no answer to a renewal within " +
                                               std::to_string(cfg_.renew_interval.count()) + " ms");
        }
    }
    if (!term_.renew_in_flight && !term_.release_in_flight && now_ >= term_.next_renew) {
        emit(act::renew{term_.id});
        term_.renew_in_flight = true;
        term_.renew_sent = now_;
        term_.next_renew = now_ + cfg_.renew_interval;
    }
}

void Election::reconcile_release() {
    if (term_.id == 0 || !(term_.lease_lost || now_ >= term_.deadline || term_.giving_up) ||
        !all_stopped())
        return;
    if (term_.lease_lost) {
        emit(act::disarm_guard{});
        finish_term();
    } else if (!term_.release_in_flight) {
        emit(act::disarm_guard{});
        emit(act::release{term_.id, term_.reserve_for.value_or("")});
        term_.release_in_flight = true;
        term_.release_sent = now_;
    } else if (now_ >= term_.release_sent + cfg_.release_timeout) {
        note(EventKind::release_failed,
             "no answer to the release; the lease will expire by itself");
        finish_term();
    }
}

void Election::reconcile_acquire() {
    if (term_.id != 0 || !all_stopped())
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

}  // namespace af::core
