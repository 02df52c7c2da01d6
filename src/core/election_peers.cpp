// Peers in the election core: what their heartbeats tell (who is active, who would go first
// after a release) and failback to a returning higher-priority node.
#include "af/core/election.hpp"

namespace af::core {

bool Election::heard(const std::string& node) const {
    auto it = peers_.find(node);
    return cfg_.heartbeats() && it != peers_.end() &&
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
    Peer& p = peers_[e.node];
    peer_term(e.node, p, e.term);
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
    else if (term_.id == 0 && !e.active && watch_holder_ == e.node) {
        // The holder we watch says it is no longer active: it passed its deadline without a
        // renewal (cut off from the database, say) and has killed its processes. Its lease is
        // about to expire, so read it now rather than at the next slow poll.
        watch_holder_.reset();
        next_acquire_ = std::min(next_acquire_, now_);
    }
}

void Election::peer_term(const std::string& node, Peer& p, std::int64_t term) {
    // A heartbeat is authenticated, but whoever holds the key can send any term: it may only
    // nudge the floor a little above what the database said, never become the next term.
    if (term <= known_term_ + cfg_.peer_term_bound) {
        highest_term_seen_ = std::max(highest_term_seen_, term);
        p.term_ignored = false;
        return;
    }
    if (p.term_ignored)
        return;
    p.term_ignored = true;
    note(EventKind::peer_term_ignored,
         "a heartbeat from " + node + " claims term " + std::to_string(term) + ", more than " +
             std::to_string(cfg_.peer_term_bound) + " above the highest on record (" +
             std::to_string(known_term_) + "): not used as a term floor");
}

void Election::check_failback() {
    if (!cfg_.failback || !holding() || term_.giving_up || stopping_ || paused())
        return;
    for (const auto& [id, p] : peers_) {
        if (!heard(id) || p.qualifies_since == TimePoint::max())
            continue;
        if (now_ - p.qualifies_since < cfg_.failback_delay)
            continue;
        hand_over(id);
        note(EventKind::failback, "handing the lease to " + id + ", which has a higher priority (" +
                                      std::to_string(p.priority) + " > " +
                                      std::to_string(cfg_.priority) + ")");
        return;
    }
}

}  // namespace af::core
