#include "af/net/peer_tracker.hpp"

#include <algorithm>

namespace af::net {

PeerTracker::PeerTracker(std::set<std::string> peers) {
    for (const auto& p : peers)
        peers_[p] = Peer{};
}

void PeerTracker::raise_floor(const std::string& node, std::uint64_t incarnation) {
    auto it = peers_.find(node);
    if (it != peers_.end())
        it->second.floor = std::max(it->second.floor, incarnation);
}

std::optional<DropReason> PeerTracker::admit(const Heartbeat& hb, TimePoint now) {
    auto it = peers_.find(hb.node_id);
    if (it == peers_.end())
        return DropReason::unknown_node;
    Peer& p = it->second;
    // Incarnations come from the database (nodes.incarnation, bumped at every start), so they
    // only grow: a lower one is a replay of an earlier life, however long the peer was silent.
    // The floor covers what we have not heard ourselves (we restarted, the peer restarted
    // while we were cut off).
    if (hb.incarnation < p.floor)
        return DropReason::replayed;
    if (p.heard) {
        const bool newer_life = hb.incarnation > p.incarnation;
        const bool same_life_fresh = hb.incarnation == p.incarnation && hb.seq > p.seq;
        if (!newer_life && !same_life_fresh)
            return DropReason::replayed;
    }
    p.incarnation = hb.incarnation;
    p.floor = std::max(p.floor, hb.incarnation);
    p.seq = hb.seq;
    p.last_heard = now;
    p.heard = true;
    p.last = hb;
    return std::nullopt;
}

}  // namespace af::net
