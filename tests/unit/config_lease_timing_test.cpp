// Unset lease timings follow ttl_ms (docs/design.md, "Timings from ttl_ms"): renew ttl/6,
// fence margin max(100, ttl/10), poll = renew. Expected values written out by hand.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "af/config/config.hpp"

namespace {

using af::config::parse_config;
using namespace std::chrono_literals;

af::config::Config with_lease(const nlohmann::json& lease) {
    nlohmann::json j = nlohmann::json::parse(R"({
        "cluster": "prod", "node_id": "sched-a",
        "database": { "conninfo": "host=db1 dbname=airflow user=failover" },
        "processes": [ { "name": "scheduler", "command": ["airflow", "scheduler"] } ]
    })");
    j["lease"] = lease;
    return parse_config(j.dump());
}

TEST(LeaseTimingRule, ShortTtlGetsShortTimings) {
    const auto c = with_lease({{"ttl_ms", 1500}});
    EXPECT_EQ(c.lease.renew_interval, 250ms);
    EXPECT_EQ(c.lease.fence_margin, 150ms);
    EXPECT_EQ(c.lease.poll_interval, 250ms);
}

TEST(LeaseTimingRule, SmallestTtlKeepsTheFloors) {
    const auto c = with_lease({{"ttl_ms", 500}});
    EXPECT_EQ(c.lease.renew_interval, 83ms);
    EXPECT_EQ(c.lease.fence_margin, 100ms);
}

TEST(LeaseTimingRule, DefaultTtlKeepsTheEarlierDefaults) {
    const auto c = with_lease({{"ttl_ms", 3000}});
    EXPECT_EQ(c.lease.renew_interval, 500ms);
    EXPECT_EQ(c.lease.fence_margin, 300ms);
}

TEST(LeaseTimingRule, ExplicitValuesWin) {
    const auto c = with_lease({{"ttl_ms", 1500}, {"renew_interval_ms", 400}});
    EXPECT_EQ(c.lease.renew_interval, 400ms);
    EXPECT_EQ(c.lease.poll_interval, 400ms);
}

}  // namespace
