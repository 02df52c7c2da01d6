#include "af/net/peer_tracker.hpp"

namespace af::net {

PeerTracker::PeerTracker(std::set<std::string> peers, Duration silence_reset)
    : silence_reset_(silence_reset) {
    for (const auto& p : peers)
        peers_[p] = Peer{};
}

std::optional<DropReason> PeerTracker::admit(const Heartbeat& hb, TimePoint now) {
    auto it = peers_.find(hb.node_id);
    if (it == peers_.end())
        return DropReason::unknown_node;
    Peer& p = it->second;
    if (p.heard) {
        const bool newer_life = hb.incarnation > p.incarnation;
        const bool same_life_fresh = hb.incarnation == p.incarnation && hb.seq > p.seq;
        // An older incarnation is a replay, unless the peer has been silent for long: then it
        // may have restarted after its clock stepped back. A replayed heartbeat can at most make
        // us ask the database sooner, so this opening cannot elect anyone.
        const bool restarted_after_silence =
            hb.incarnation < p.incarnation && now - p.last_heard > silence_reset_;
        if (!newer_life && !same_life_fresh && !restarted_after_silence)
            return DropReason::replayed;
    }
    p.incarnation = hb.incarnation;
    p.seq = hb.seq;
    p.last_heard = now;
    p.heard = true;
    p.last = hb;
    return std::nullopt;
}

}  // namespace af::net
