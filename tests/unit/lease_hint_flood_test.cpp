// A forged NOTIFY flood (issue 22): any database role may NOTIFY "<cluster>:released:" on the
// daemon's channel, and each one used to bring a standby's acquire forward to now. The core
// must let hints move an acquire once per poll interval at most. Fake clock, one standby.
#include <gtest/gtest.h>

#include <chrono>

#include "af/core/election.hpp"
#include "ready_actions.hpp"

namespace {

using namespace af;
using namespace af::core;
using af::test::all;

TimePoint at(long long ms) {
    return TimePoint{} + std::chrono::milliseconds(ms);
}

TEST(LeaseHintFlood, AFloodOfForgedReleasesCostsAtMostOneAcquirePerPollInterval) {
    ElectionConfig c;
    c.processes = {{"scheduler", Duration{500}}};
    c.poll_interval = Duration{1000};
    Election e(c, "me");
    // Every acquire loses to a live holder with its lease 10 s from expiry.
    auto lose = [](long long sent) {
        ev::acquire_result a;
        a.won = false;
        a.term = 3;
        a.holder = "other";
        a.remaining = Duration{10000};
        a.sent_at = at(sent);
        return a;
    };
    int acquires = 0;
    for (long long now = 0; now <= 10000; now += 2) {
        const Ready r = e.step(ev::lease_hint{}, at(now));  // one forged NOTIFY every 2 ms
        for (std::size_t i = 0; i < all<act::try_acquire>(r).size(); ++i) {
            ++acquires;
            e.step(lose(now), at(now + 1));  // the database answers in 1 ms
        }
    }
    // 10 s: one hint-driven acquire per poll interval, plus the first try.
    EXPECT_LE(acquires, 12) << "the forged hints drove the acquires";
    EXPECT_GE(acquires, 1);
}

}  // namespace
