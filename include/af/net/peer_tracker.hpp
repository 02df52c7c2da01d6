#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "af/net/heartbeat_codec.hpp"
#include "af/util/boot_clock.hpp"

namespace af::net {

/// Accepts or drops decoded heartbeats by sender and freshness, and remembers when each peer
/// was last heard. Pure: time is passed in.
class PeerTracker {
  public:
    /// `peers` are the configured node ids; anyone else is an unknown node.
    explicit PeerTracker(std::set<std::string> peers);

    /// The lowest incarnation still acceptable from `node`: its nodes.incarnation as read from
    /// the database. Never lowered.
    void raise_floor(const std::string& node, std::uint64_t incarnation);

    /// nullopt: accepted. Otherwise why it was dropped (the state is unchanged).
    std::optional<DropReason> admit(const Heartbeat& hb, TimePoint now);

    struct Peer {
        std::uint64_t incarnation{0};
        std::uint64_t floor{0};  ///< lower incarnations are replays
        std::uint64_t seq{0};
        TimePoint last_heard{};
        bool heard{false};
        Heartbeat last;
    };
    const std::map<std::string, Peer>& peers() const { return peers_; }

  private:
    std::map<std::string, Peer> peers_;
};

}  // namespace af::net
