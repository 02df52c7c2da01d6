// The one reconnect policy of the main connection and the renewal lanes: capped doubling,
// reset by an open.
#include <gtest/gtest.h>

#include <vector>

#include "af/db/reconnect_backoff.hpp"

using namespace std::chrono_literals;

TEST(ReconnectBackoff, DoublesToTwoSecondsAndResetsOnOpen) {
    af::db::ReconnectBackoff b;
    const af::TimePoint t0{};
    EXPECT_TRUE(b.due(t0));
    af::TimePoint now = t0;
    std::vector<af::Duration> waits;
    for (int i = 0; i < 7; ++i) {
        b.failed(now);
        af::Duration w{0};
        while (!b.due(now + w))
            w += 1ms;
        waits.push_back(w);
        now += w;
    }
    EXPECT_EQ(waits,
              (std::vector<af::Duration>{100ms, 200ms, 400ms, 800ms, 1600ms, 2000ms, 2000ms}));
    b.opened();
    EXPECT_TRUE(b.due(now));
    b.failed(now);
    EXPECT_FALSE(b.due(now + 99ms));
    EXPECT_TRUE(b.due(now + 100ms));
}
