#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "af/config/config.hpp"
#include "af/net/heartbeat_codec.hpp"
#include "af/net/peer_tracker.hpp"
#include "af/ports/optional_parts.hpp"

namespace af::net {

/// Reads the shared secret. Throws config::ConfigError naming heartbeat.secret_file when the
/// file is missing, unreadable or too short. The key is never logged.
Key load_key(const config::HeartbeatConfig& cfg);

/// Sends this node's heartbeat to every peer each interval and receives theirs: decode,
/// authenticate, check freshness, count drops by reason, and pass accepted ones on.
class HeartbeatService : public ports::Heartbeats {
  public:
    /// What to put in the next datagram; asked at each send.
    struct Snapshot {
        WireRole role{WireRole::standby};
        std::int64_t term{0};
        std::uint8_t flags{0};
        std::uint32_t lease_remaining_ms{0};
        /// This node's nodes.incarnation; 0 (not registered yet) sends nothing.
        std::uint64_t incarnation{0};
        /// The peers' incarnations from the database: lower ones are dropped as replays.
        std::map<std::string, std::uint64_t> peer_incarnations;
    };
    using SnapshotFn = std::function<Snapshot()>;
    using AcceptFn = std::function<void(const Heartbeat&)>;

    HeartbeatService(boost::asio::io_context& io, config::HeartbeatConfig cfg, std::string cluster,
                     std::string node_id, int priority, Key key, SnapshotFn snapshot,
                     AcceptFn on_accept);

    /// Binds the socket (throws with the address on failure) and starts sending/receiving.
    void start();
    void stop() override;
    /// Sends a datagram to every peer now, with extra flags (the release announcement).
    void send_now(std::uint8_t extra_flags) override;

    struct Counters {
        std::uint64_t sent{0};
        std::uint64_t received{0};
        std::uint64_t send_errors{0};
        std::map<std::string, std::uint64_t> dropped;  ///< by reason, every reason listed
    };
    Counters counts() const;
    /// The counters as the node row has them.
    nlohmann::json counters() const override;

    /// A peer as last heard: `heard` is false when never heard or silent for miss_count
    /// intervals (age is then still set if it was ever heard).
    struct PeerView {
        bool heard{false};
        std::optional<Duration> age;
        WireRole role{WireRole::standby};
        std::int64_t term{0};
    };
    std::map<std::string, PeerView> peers() const;
    /// For the node row: which peers we hear, how stale, what they say.
    nlohmann::json peers_view() const override;

  private:
    void do_receive();
    void do_send_timer();
    void send_all(std::uint8_t extra_flags);

    boost::asio::io_context& io_;
    config::HeartbeatConfig cfg_;
    std::string cluster_;
    std::string node_id_;
    int priority_;
    Key key_;
    SnapshotFn snapshot_;
    AcceptFn on_accept_;
    boost::asio::ip::udp::socket socket_;
    boost::asio::steady_timer timer_;
    std::map<std::string, boost::asio::ip::udp::endpoint> peers_;
    std::set<boost::asio::ip::address> senders_;  ///< the peers' addresses (IPv4-mapped as IPv4)
    PeerTracker tracker_;
    std::uint64_t seq_{0};
    std::array<std::uint8_t, 2048> buf_{};
    boost::asio::ip::udp::endpoint from_;
    std::uint64_t sent_{0};
    std::uint64_t received_{0};
    std::uint64_t send_errors_{0};
    std::map<DropReason, std::uint64_t> dropped_;
    bool stopped_{false};
};

}  // namespace af::net
