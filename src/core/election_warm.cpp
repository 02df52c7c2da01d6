// Warm standby in the election core (docs/warm-standby.md): a process that opted in is
// pre-started on a standby and, on promotion, sent go instead of being started. The warm copy
// is kept apart from ProcState: it never counts as running, so it changes nothing in the
// safety rules (all_stopped() before an acquire, the kill at the deadline, the guard's groups).

#include <algorithm>

#include "af/core/election.hpp"

namespace af::core {

WarmState Election::warm_state(const std::string& name) const {
    auto it = procs_.find(name);
    return it == procs_.end() ? WarmState::none : it->second.warm;
}

bool Election::want_warm(const Proc& p) const {
    // A standby keeps one; so does a node that just won a term and waits for its promotion
    // gates (takeover, pre_promote), so the go can follow them. Nothing else does.
    if (!p.policy.warm || stopping_ || cfg_.nofailover || p.state != ProcState::stopped)
        return false;
    return term_.id == 0 || (holding() && !term_.giving_up);
}

bool Election::start_warm(const std::string& name, Proc& p) {
    if (p.warm != WarmState::ready)
        return false;
    emit(act::warm_go{name, term_.id});
    p.warm = WarmState::none;  // it is the running process now, no longer a warm copy
    note(EventKind::process_started, name + " (warm standby: sent go)");
    return true;
}

void Election::on(const ev::warm_ready& e) {
    auto it = procs_.find(e.name);
    if (it == procs_.end() || it->second.warm != WarmState::starting)
        return;
    it->second.warm = WarmState::ready;
    it->second.warm_failures = 0;
    note(EventKind::warm_ready, e.name + " is warm: imports done, waiting for go");
}

void Election::on(const ev::warm_exited& e) {
    auto it = procs_.find(e.name);
    if (it == procs_.end() || it->second.warm == WarmState::none)
        return;
    Proc& p = it->second;
    const bool asked = p.warm == WarmState::stopping;
    p.warm = WarmState::none;
    if (asked)
        return;
    // It ended on its own (a crash, a failed import): try again later, backing off like a
    // crashing process, so a broken launcher does not spin.
    ++p.warm_failures;
    const Duration d = restart_backoff(cfg_, p.warm_failures);
    p.warm_retry_at = now_ + d;
    note(EventKind::warm_exited,
         e.name + " (warm) " + e.how + "; a new one in " + std::to_string(d.count()) + " ms");
}

void Election::on(const ev::warm_stale& e) {
    auto it = procs_.find(e.name);
    if (it == procs_.end())
        return;
    Proc& p = it->second;
    if (p.warm != WarmState::starting && p.warm != WarmState::ready)
        return;
    emit(act::warm_stop{e.name});
    p.warm = WarmState::stopping;
    note(EventKind::warm_replaced, e.name + " (warm): " + e.why);
}

void Election::reconcile_warm() {
    for (auto& [name, p] : procs_) {
        if (!p.policy.warm)
            continue;
        const bool want = want_warm(p);
        const bool live = p.warm == WarmState::starting || p.warm == WarmState::ready;
        if (live && !want) {
            emit(act::warm_stop{name});
            p.warm = WarmState::stopping;
            continue;
        }
        if (!want || term_.id != 0)
            continue;  // a new warm copy only on a standby
        if (p.warm == WarmState::none && now_ >= p.warm_retry_at) {
            emit(act::warm_start{name});
            p.warm = WarmState::starting;
            p.warm_since = now_;
        } else if (live && p.policy.warm_max_age.count() > 0 &&
                   now_ >= p.warm_since + p.policy.warm_max_age) {
            emit(act::warm_stop{name});
            p.warm = WarmState::stopping;
            note(EventKind::warm_replaced,
                 name + " (warm): older than its max age of " +
                     std::to_string(p.policy.warm_max_age.count() / 1000) + " s");
        }
    }
}

TimePoint Election::next_warm_wakeup() const {
    TimePoint t = TimePoint::max();
    for (const auto& [name, p] : procs_) {
        if (!want_warm(p) || term_.id != 0)
            continue;
        TimePoint c = TimePoint::max();
        if (p.warm == WarmState::none)
            c = p.warm_retry_at;
        else if ((p.warm == WarmState::starting || p.warm == WarmState::ready) &&
                 p.policy.warm_max_age.count() > 0)
            c = p.warm_since + p.policy.warm_max_age;
        if (c > now_)
            t = std::min(t, c);
    }
    return t;
}

}  // namespace af::core
