// Promotion gates (docs/airflow.md): between winning a term and starting the processes, the
// previous holder's Airflow jobs are closed out (takeover) and hooks.pre_promote may veto.
#include "af/core/election.hpp"

namespace af::core {

void Election::open_gates(const ev::acquire_result& e) {
    term_.previous_holder = e.previous_holder;
    if (cfg_.takeover) {
        if (!e.previous_holder.empty()) {
            // Winning needs a released lease or one expired on the database clock, so the
            // previous holder has stopped its processes (or its guard did, or its deadline
            // passed long before); its Airflow jobs are dead and can be closed out at once. That
            // holds for this node's own previous term too: every process stops before a new
            // acquire.
            term_.takeover_pending = true;
            term_.takeover_until = now_ + *cfg_.takeover;
            emit(act::take_over{term_.id, e.previous_holder});
        } else if (term_.id > 1) {
            note(EventKind::takeover_skipped,
                 "the holder of term " + std::to_string(term_.id - 1) +
                     " is not known (it changed while we acquired, or the lease row predates "
                     "schema version 3); Airflow's orphan check will reset its tasks");
        }
    }
    if (cfg_.pre_promote) {
        term_.pre_promote_pending = true;
        term_.pre_promote_until = now_ + *cfg_.pre_promote;
        emit(act::run_pre_promote{term_.id, e.previous_holder});
    }
}

void Election::on(const ev::takeover_result& e) {
    if (!term_.takeover_pending || e.term != term_.id)
        return;  // late (the timeout went first) or about an older term
    term_.takeover_pending = false;
    const std::string when =
        term_.takeover_cancelled ? " (answered after its cancellation at the timeout)" : "";
    note(e.ok ? EventKind::takeover : EventKind::takeover_failed,
         e.ok ? e.detail + when
              : e.detail + when + "; starting anyway (Airflow's own orphan check is the fallback)");
}

void Election::on(const ev::hook_result& e) {
    if (!term_.pre_promote_pending || e.term != term_.id)
        return;
    term_.pre_promote_pending = false;
    if (e.ok)
        note(EventKind::pre_promote_passed, e.detail);
    else
        veto(e.detail);
}

void Election::veto(const std::string& why) {
    // Let the others go first: release at once (announced, so a standby tries now) and stay
    // out for the hand-over cooldown. A node that always vetoes thus only ever holds the lease
    // for the hook's run time, once per cooldown, and any other node can take it in between.
    hand_over();
    note(EventKind::promotion_vetoed,
         "hooks.pre_promote: " + why + "; releasing the lease, next try in " +
             std::to_string(cfg_.handover_cooldown.count()) + " ms at the earliest");
}

void Election::check_gates() {
    if (term_.id == 0)
        return;
    // A statement given up on may still commit: if it did after our processes started, it
    // would fail our own new jobs when the previous holder was this node (issue 22). So the
    // timeout cancels it and the start waits for the answer, which then is final. Should even
    // that not come within another timeout, the term is handed over rather than started.
    if (term_.takeover_pending && now_ >= term_.takeover_until) {
        if (!term_.takeover_cancelled) {
            term_.takeover_cancelled = true;
            term_.takeover_until = now_ + *cfg_.takeover;
            emit(act::cancel_takeover{term_.id});
        } else {
            term_.takeover_pending = false;
            hand_over();
            note(EventKind::takeover_failed,
                 "no answer within " + std::to_string(cfg_.takeover->count()) +
                     " ms, nor to its cancellation; the statement may still commit, so the "
                     "processes do not start: releasing the lease");
            return;
        }
    }
    if (term_.pre_promote_pending && now_ >= term_.pre_promote_until) {
        term_.pre_promote_pending = false;
        veto("no answer within " + std::to_string(cfg_.pre_promote->count()) + " ms");
    }
    if (!term_.promoted && want_processes()) {
        term_.promoted = true;
        if (cfg_.role_change_hook)
            emit(act::role_change{RoleChange::promote, Role::active, term_.id,
                                  term_.previous_holder});
    }
}

}  // namespace af::core
