// Terms never repeat: every acquire asks for a term above the highest this node has seen, from
// lease reads, peer heartbeats and the database's own record at connect. A lease row that went
// back to an older term (restored from a backup, an asynchronous replica promoted) cannot make a
// fencing token repeat.
#include <gtest/gtest.h>

#include "fake_time.hpp"

#include <limits>
#include <optional>
#include <variant>

#include "af/core/election.hpp"

namespace {

using namespace std::chrono_literals;
using af::TimePoint;
using af::core::Election;
using af::core::ElectionConfig;
using af::core::Ready;
namespace ev = af::core::ev;
namespace act = af::core::act;

using af::test::t;

ElectionConfig config() {
    ElectionConfig c;
    c.processes = {{"scheduler", 1000ms}};
    return c;
}

std::optional<std::int64_t> acquire_floor(const Ready& r) {
    for (const auto& a : r.actions)
        if (const auto* acq = std::get_if<act::try_acquire>(&a))
            return acq->min_term;
    return std::nullopt;
}

}  // namespace

TEST(TermFloor, FreshNodeAsksFromZero) {
    Election e(config(), "a");
    EXPECT_EQ(acquire_floor(e.step(ev::tick{}, t(0))), 0);
}

TEST(TermFloor, DatabaseRecordAtConnectRaisesTheFloor) {
    Election e(config(), "a");
    ASSERT_EQ(acquire_floor(e.step(ev::tick{}, t(0))), 0);
    e.step(ev::term_floor{41}, t(1));
    e.step(ev::acquire_result{false, 3, std::string("c"), 100ms, t(0), "", false}, t(2));
    EXPECT_EQ(acquire_floor(e.step(ev::tick{}, t(200))), 41);
}

TEST(TermFloor, LostAcquireRemembersTheHoldersTerm) {
    Election e(config(), "b");
    ASSERT_EQ(acquire_floor(e.step(ev::tick{}, t(0))), 0);
    e.step(ev::acquire_result{false, 7, std::string("a"), 100ms, t(0), "", false}, t(2));
    // The lease row is now restored to term 3 (nobody holds it): the next ask still starts at 7.
    const auto floor = acquire_floor(e.step(ev::tick{}, t(200)));
    ASSERT_TRUE(floor.has_value());
    EXPECT_EQ(*floor, 7);
}

TEST(TermFloor, PeerHeartbeatTermsCount) {
    Election e(config(), "b");
    ASSERT_EQ(acquire_floor(e.step(ev::tick{}, t(0))), 0);
    e.step(ev::peer_heartbeat{"a", true, false, 12, 100, false, true}, t(1));
    e.step(ev::acquire_result{false, 3, std::string("a"), 100ms, t(0), "", false}, t(2));
    EXPECT_EQ(acquire_floor(e.step(ev::tick{}, t(200))), 12);
}

// Issue 22: one authenticated datagram carrying term 2^63 - 2 used to become the next acquire's
// floor, so the lease row went to INT64_MAX and every later acquire overflowed.
TEST(TermFloor, HugePeerTermIsOnlyAHintAndIsRecordedOnce) {
    Election e(config(), "b");
    e.step(ev::term_floor{41}, t(0));
    const std::int64_t huge = std::numeric_limits<std::int64_t>::max() - 1;
    const Ready r = e.step(ev::peer_heartbeat{"a", true, false, huge, 100, false, true}, t(1));
    int recorded = 0;
    for (const auto& a : r.actions)
        if (const auto* rec = std::get_if<act::record>(&a))
            recorded += rec->kind == "peer_term_ignored";
    EXPECT_EQ(recorded, 1);
    const Ready again = e.step(ev::peer_heartbeat{"a", true, false, huge, 100, false, true}, t(2));
    for (const auto& a : again.actions)
        EXPECT_FALSE(std::holds_alternative<act::record>(a)) << "recorded at every datagram";
    // The acquire asked at t(0) is answered; the next one asks from the database's floor.
    e.step(ev::acquire_result{false, 3, std::string("c"), 100ms, t(0), "", false}, t(3));
    EXPECT_EQ(acquire_floor(e.step(ev::tick{}, t(200))), 41);
}

TEST(TermFloor, PeerTermsCannotRatchetTheFloorUpwards) {
    ElectionConfig c = config();
    Election e(c, "b");
    e.step(ev::term_floor{10}, t(0));
    // Each forged term is within the bound of the one before, never of the database's record.
    std::int64_t claim = 10;
    for (int i = 1; i <= 50; ++i) {
        claim += c.peer_term_bound;
        e.step(ev::peer_heartbeat{"a", true, false, claim, 100, false, true}, t(i));
    }
    e.step(ev::acquire_result{false, 3, std::string("c"), 100ms, t(0), "", false}, t(60));
    const auto floor = acquire_floor(e.step(ev::tick{}, t(200)));
    ASSERT_TRUE(floor.has_value());
    EXPECT_LE(*floor, 10 + c.peer_term_bound);
    // A term the database confirms moves the bound with it.
    e.step(ev::acquire_result{false, 5000, std::string("a"), 100ms, t(200), "", false}, t(201));
    e.step(ev::peer_heartbeat{"a", true, false, 5500, 100, false, true}, t(202));
    EXPECT_EQ(acquire_floor(e.step(ev::tick{}, t(400))), 5500);
}

TEST(TermFloor, FloorNeverGoesDown) {
    Election e(config(), "a");
    e.step(ev::term_floor{9}, t(0));
    e.step(ev::term_floor{2}, t(0));
    e.step(ev::acquire_result{false, 4, std::string("c"), 100ms, t(0), "", false}, t(1));
    EXPECT_EQ(acquire_floor(e.step(ev::tick{}, t(200))), 9);
}

TEST(TermFloor, OwnWonTermIsTheFloorAfterLosingIt) {
    Election e(config(), "a");
    e.step(ev::tick{}, t(0));
    e.step(ev::acquire_result{true, 5, std::nullopt, 0ms, t(0), "", false}, t(1));
    // Renewal refused (the row was rewritten): the node fences itself and later asks again.
    e.step(ev::renew_result{false, 5, t(500)}, t(501));
    std::optional<std::int64_t> floor;
    for (long long now = 502; now < 20000 && !floor; now += 100) {
        floor = acquire_floor(e.step(ev::tick{}, t(now)));
        e.step(ev::process_exited{"scheduler", "killed"}, t(now));
    }
    ASSERT_TRUE(floor.has_value());
    EXPECT_GE(*floor, 5);
}

// nofailover (a node that reports and heartbeats but never competes) lives beside the floor
// tests because it is the other rule about when a node may ask for the lease.
TEST(NoFailover, NeverAsksForTheLeaseEvenWhenItIsReleased) {
    ElectionConfig c = config();
    c.nofailover = true;
    Election e(c, "b");
    int asks = 0;
    for (long long now = 0; now < 30000; now += 250) {
        const Ready r =
            now % 1000 == 0 ? e.step(ev::lease_hint{"b"}, t(now)) : e.step(ev::tick{}, t(now));
        asks += acquire_floor(r).has_value();
    }
    EXPECT_EQ(asks, 0);
    EXPECT_EQ(e.role(), af::core::Role::nofailover);
    EXPECT_STREQ(af::core::to_string(e.role()), "nofailover");
}
