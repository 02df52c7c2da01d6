// The heartbeat wire format: every field round-trips, and every rejection reason is produced by
// the inputs that should produce it (a table of bad datagrams).
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "af/net/heartbeat_codec.hpp"
#include "af/net/peer_tracker.hpp"

namespace {

using af::net::decode;
using af::net::DropReason;
using af::net::encode;
using af::net::Heartbeat;
using Bytes = std::vector<std::uint8_t>;

const af::net::Key k_key(32, 0x42);

Heartbeat sample() {
    Heartbeat hb;
    hb.cluster = "prod";
    hb.node_id = "sched-b";
    hb.incarnation = 0x0102030405060708ULL;
    hb.seq = 0x1112131415161718ULL;
    hb.role = af::net::WireRole::active;
    hb.priority = 200;
    hb.flags = Heartbeat::k_releasing | Heartbeat::k_healthy;
    hb.term = 0x7fff000011112222LL;
    hb.lease_remaining_ms = 0xA1B2C3D4u;
    return hb;
}

TEST(HeartbeatCodec, EveryFieldRoundTrips) {
    const Heartbeat in = sample();
    const Bytes wire = encode(in, k_key);
    const auto r = decode(wire, k_key, "prod");
    ASSERT_TRUE(r.heartbeat.has_value());
    const Heartbeat& out = *r.heartbeat;
    EXPECT_EQ(out.cluster, in.cluster);
    EXPECT_EQ(out.node_id, in.node_id);
    EXPECT_EQ(out.incarnation, in.incarnation);
    EXPECT_EQ(out.seq, in.seq);
    EXPECT_EQ(out.role, in.role);
    EXPECT_EQ(out.priority, in.priority);
    EXPECT_EQ(out.flags, in.flags);
    EXPECT_EQ(out.term, in.term);
    EXPECT_EQ(out.lease_remaining_ms, in.lease_remaining_ms);
}

TEST(HeartbeatCodec, LayoutIsBigEndianAsDocumented) {
    const Bytes wire = encode(sample(), k_key);
    ASSERT_EQ(std::string(wire.begin(), wire.begin() + 4), "AFHB");
    EXPECT_EQ(wire[4], af::net::k_protocol_version);
    EXPECT_EQ(wire[5], 1);     // role
    EXPECT_EQ(wire[6], 200);   // priority
    EXPECT_EQ(wire[8], 0x01);  // incarnation, most significant byte first
    EXPECT_EQ(wire[15], 0x08);
    EXPECT_EQ(wire[36], 4);  // cluster length
    // fixed 36 + 1 + "prod" + 1 + "sched-b" + 32-byte MAC
    EXPECT_EQ(wire.size(), 36u + 1 + 4 + 1 + 7 + 32);
}

struct BadCase {
    const char* name;
    std::function<Bytes()> make;
    DropReason expect;
};

TEST(HeartbeatCodec, RejectsEachBadInputForItsReason) {
    const Bytes good = encode(sample(), k_key);
    std::vector<BadCase> cases = {
        {"empty", [] { return Bytes{}; }, DropReason::malformed},
        {"truncated to the header", [&] { return Bytes(good.begin(), good.begin() + 10); },
         DropReason::malformed},
        {"truncated MAC", [&] { return Bytes(good.begin(), good.end() - 1); }, DropReason::bad_mac},
        {"oversized",
         [&] {
             Bytes b = good;
             b.resize(300, 0);
             return b;
         },
         DropReason::oversized},
        {"wrong magic",
         [&] {
             Bytes b = good;
             b[0] = 'X';
             return b;
         },
         DropReason::malformed},
        {"other version",
         [&] {
             Bytes b = good;
             b[4] = 9;
             return b;
         },
         DropReason::bad_version},
        {"flipped payload bit",
         [&] {
             Bytes b = good;
             b[20] ^= 1;
             return b;
         },
         DropReason::bad_mac},
        {"flipped MAC bit",
         [&] {
             Bytes b = good;
             b.back() ^= 0x80;
             return b;
         },
         DropReason::bad_mac},
        {"other key", [] { return encode(sample(), af::net::Key(32, 0x43)); }, DropReason::bad_mac},
        {"unsigned (insecure sender)", [] { return encode(sample(), {}); }, DropReason::bad_mac},
        {"other cluster",
         [] {
             Heartbeat hb = sample();
             hb.cluster = "staging";
             return encode(hb, k_key);
         },
         DropReason::wrong_cluster},
        {"role out of range",
         [] {
             Heartbeat hb = sample();
             hb.role = static_cast<af::net::WireRole>(3);
             return encode(hb, k_key);
         },
         DropReason::malformed},
        {"negative term",
         [] {
             Heartbeat hb = sample();
             hb.term = -1;
             return encode(hb, k_key);
         },
         DropReason::malformed},
        {"empty node id",
         [] {
             Heartbeat hb = sample();
             hb.node_id = "";
             return encode(hb, k_key);
         },
         DropReason::malformed},
    };
    for (const auto& c : cases) {
        const auto r = decode(c.make(), k_key, "prod");
        EXPECT_FALSE(r.heartbeat.has_value()) << c.name;
        EXPECT_EQ(r.reason, c.expect) << c.name << ": got " << af::net::to_string(r.reason)
                                      << ", want " << af::net::to_string(c.expect);
    }
}

TEST(HeartbeatCodec, InsecureModeAcceptsUnsignedOnlyWithEmptyKey) {
    const Bytes wire = encode(sample(), {});
    EXPECT_TRUE(decode(wire, {}, "prod").heartbeat.has_value());
    EXPECT_EQ(decode(wire, k_key, "prod").reason, DropReason::bad_mac);
}

TEST(PeerTracker, UnknownNodeReplayAndRestart) {
    af::net::PeerTracker t({"sched-b"});
    const af::TimePoint t0{};
    Heartbeat hb = sample();
    EXPECT_FALSE(t.admit(hb, t0).has_value());
    EXPECT_EQ(t.admit(hb, t0), DropReason::replayed) << "the same datagram twice";
    Heartbeat older = hb;
    older.seq -= 1;
    EXPECT_EQ(t.admit(older, t0), DropReason::replayed) << "an older sequence number";
    Heartbeat next = hb;
    next.seq += 1;
    EXPECT_FALSE(t.admit(next, t0).has_value());
    Heartbeat old_life = hb;
    old_life.incarnation -= 1;
    old_life.seq += 100;
    EXPECT_EQ(t.admit(old_life, t0 + af::Duration{1000}), DropReason::replayed)
        << "an earlier incarnation while the peer is being heard";
    Heartbeat new_life = hb;
    new_life.incarnation += 1;
    new_life.seq = 1;
    EXPECT_FALSE(t.admit(new_life, t0 + af::Duration{20001}).has_value()) << "a restart";
    Heartbeat stranger = hb;
    stranger.node_id = "intruder";
    EXPECT_EQ(t.admit(stranger, t0), DropReason::unknown_node);
}

// Attack: captured heartbeats of an earlier life, replayed after a long silence.
TEST(PeerTracker, AnEarlierIncarnationIsAReplayHoweverLongTheSilence) {
    af::net::PeerTracker t({"sched-b"});
    Heartbeat hb = sample();
    ASSERT_FALSE(t.admit(hb, af::TimePoint{}).has_value());
    Heartbeat old_life = hb;
    old_life.incarnation -= 1;
    old_life.seq += 100;
    for (int minutes : {1, 10, 600})
        EXPECT_EQ(t.admit(old_life, af::TimePoint{} + std::chrono::minutes(minutes)),
                  DropReason::replayed)
            << minutes << " min of silence";
}

// Attack: we restarted (nothing heard yet) and a replay of the peer's previous life arrives;
// the database says the peer is in a later incarnation.
TEST(PeerTracker, TheDatabaseFloorRejectsWhatWeNeverHeard) {
    af::net::PeerTracker t({"sched-b"});
    Heartbeat captured = sample();
    t.raise_floor("sched-b", captured.incarnation + 1);
    t.raise_floor("sched-b", captured.incarnation - 5);  // never lowered
    t.raise_floor("intruder", 1);                        // not a peer: ignored
    EXPECT_EQ(t.admit(captured, af::TimePoint{}), DropReason::replayed);
    EXPECT_FALSE(t.peers().at("sched-b").heard);
    Heartbeat current = captured;
    current.incarnation += 1;
    current.seq = 1;
    EXPECT_FALSE(t.admit(current, af::TimePoint{}).has_value());
}

TEST(PeerTracker, ADroppedDatagramChangesNothing) {
    af::net::PeerTracker t({"sched-b"});
    Heartbeat hb = sample();
    ASSERT_FALSE(t.admit(hb, af::TimePoint{}).has_value());
    const auto before = t.peers().at("sched-b");
    Heartbeat replay = hb;
    replay.term = 99;
    ASSERT_EQ(t.admit(replay, af::TimePoint{} + af::Duration{5}), DropReason::replayed);
    const auto after = t.peers().at("sched-b");
    EXPECT_EQ(after.last.term, before.last.term);
    EXPECT_EQ(after.last_heard, before.last_heard);
    EXPECT_EQ(after.seq, before.seq);
}

}  // namespace
