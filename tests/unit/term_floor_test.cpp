// Terms never repeat: every acquire asks for a term above the highest this node has seen, from
// lease reads, peer heartbeats and the database's own record at connect. A lease row that went
// back to an older term (restored from a backup, an asynchronous replica promoted) cannot make a
// fencing token repeat.
#include <gtest/gtest.h>

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

TimePoint t(long long ms) {
    return TimePoint{} + std::chrono::milliseconds(ms);
}

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
    e.step(ev::acquire_result{false, 3, std::string("c"), 100ms, t(0)}, t(2));
    EXPECT_EQ(acquire_floor(e.step(ev::tick{}, t(200))), 41);
}

TEST(TermFloor, LostAcquireRemembersTheHoldersTerm) {
    Election e(config(), "b");
    ASSERT_EQ(acquire_floor(e.step(ev::tick{}, t(0))), 0);
    e.step(ev::acquire_result{false, 7, std::string("a"), 100ms, t(0)}, t(2));
    // The lease row is now restored to term 3 (nobody holds it): the next ask still starts at 7.
    const auto floor = acquire_floor(e.step(ev::tick{}, t(200)));
    ASSERT_TRUE(floor.has_value());
    EXPECT_EQ(*floor, 7);
}

TEST(TermFloor, PeerHeartbeatTermsCount) {
    Election e(config(), "b");
    ASSERT_EQ(acquire_floor(e.step(ev::tick{}, t(0))), 0);
    e.step(ev::peer_heartbeat{"a", true, false, 12, 100, false, true}, t(1));
    e.step(ev::acquire_result{false, 3, std::string("a"), 100ms, t(0)}, t(2));
    EXPECT_EQ(acquire_floor(e.step(ev::tick{}, t(200))), 12);
}

TEST(TermFloor, FloorNeverGoesDown) {
    Election e(config(), "a");
    e.step(ev::term_floor{9}, t(0));
    e.step(ev::term_floor{2}, t(0));
    e.step(ev::acquire_result{false, 4, std::string("c"), 100ms, t(0)}, t(1));
    EXPECT_EQ(acquire_floor(e.step(ev::tick{}, t(200))), 9);
}

TEST(TermFloor, OwnWonTermIsTheFloorAfterLosingIt) {
    Election e(config(), "a");
    e.step(ev::tick{}, t(0));
    e.step(ev::acquire_result{true, 5, std::nullopt, 0ms, t(0)}, t(1));
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
