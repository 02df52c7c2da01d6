#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace af::net {

/// The sender's role as one byte on the wire (docs/heartbeat-protocol.md); any other value is a
/// malformed datagram.
enum class WireRole : std::uint8_t { standby = 0, active = 1, stopping = 2 };
const char* to_string(WireRole r);

/// One peer heartbeat, as carried on the wire (docs/heartbeat-protocol.md has the layout).
struct Heartbeat {
    std::string cluster;
    std::string node_id;
    std::uint64_t incarnation{0};  ///< grows with every start of the sender
    std::uint64_t seq{0};          ///< grows with every datagram of one incarnation
    WireRole role{WireRole::standby};
    std::uint8_t priority{100};
    std::uint8_t flags{0};
    std::int64_t term{0};
    std::uint32_t lease_remaining_ms{0};  ///< the sender's own conservative view, a hint only

    static constexpr std::uint8_t k_releasing = 1;  ///< the sender just released the lease
    static constexpr std::uint8_t k_healthy = 2;    ///< processes healthy (active) / DB reachable
    static constexpr std::uint8_t k_db_ok = 4;      ///< the sender's database connection works
};

inline constexpr std::uint8_t k_protocol_version = 1;
inline constexpr std::size_t k_mac_size = 32;
inline constexpr std::size_t k_max_datagram = 256;

/// Why a datagram was dropped. Each has its own counter.
enum class DropReason {
    oversized,
    malformed,
    bad_version,
    bad_mac,
    wrong_cluster,
    unknown_node,
    replayed,
    /// From an address none of heartbeat.peers has: dropped before any parsing or HMAC, so a
    /// flood from elsewhere costs a counter increment, not a SHA-256 per datagram.
    unknown_sender,
};
inline constexpr std::array<DropReason, 8> k_all_drop_reasons = {
    DropReason::oversized, DropReason::malformed,     DropReason::bad_version,
    DropReason::bad_mac,   DropReason::wrong_cluster, DropReason::unknown_node,
    DropReason::replayed,  DropReason::unknown_sender};
const char* to_string(DropReason r);

/// HMAC-SHA256 key. Empty means the explicit "insecure" mode (a MAC with an empty key, which
/// a receiver with a real key rejects).
using Key = std::vector<std::uint8_t>;

std::vector<std::uint8_t> encode(const Heartbeat& hb, const Key& key);

struct DecodeResult {
    std::optional<Heartbeat> heartbeat;
    DropReason reason{DropReason::malformed};
};

/// Checks, in this order: size, magic and version, MAC (constant time), field layout, cluster.
/// Whether the node is known and the sequence fresh is the PeerTracker's job.
DecodeResult decode(std::span<const std::uint8_t> data, const Key& key, const std::string& cluster);

}  // namespace af::net
