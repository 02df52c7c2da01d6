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

TEST(LeaseTimingRule, TheEarlierDefaultTtlKeepsItsTimings) {
    const auto c = with_lease({{"ttl_ms", 3000}});
    EXPECT_EQ(c.lease.renew_interval, 500ms);
    EXPECT_EQ(c.lease.fence_margin, 300ms);
}

// No lease section and a section with only the default TTL give the same timings: the defaults
// are the rule applied to ttl 1300 (1.3 s lease, 216 ms renewals, 130 ms margin).
TEST(LeaseTimingRule, DefaultsAreTheRuleAtTheDefaultTtl) {
    nlohmann::json j = nlohmann::json::parse(R"({
        "cluster": "prod", "node_id": "sched-a",
        "database": { "conninfo": "host=db1 dbname=airflow user=failover" },
        "processes": [ { "name": "scheduler", "command": ["airflow", "scheduler"] } ]
    })");
    const auto none = parse_config(j.dump());
    const auto ruled = with_lease({{"ttl_ms", 1300}});
    EXPECT_EQ(none.lease.ttl, 1300ms);
    EXPECT_EQ(none.lease.renew_interval, 216ms);
    EXPECT_EQ(none.lease.fence_margin, 130ms);
    EXPECT_EQ(none.lease.poll_interval, 216ms);
    EXPECT_EQ(none.lease, ruled.lease);
    EXPECT_EQ(none.supervision.handover_cooldown, 2600ms);
}

TEST(LeaseTimingRule, ExplicitValuesWin) {
    const auto c = with_lease({{"ttl_ms", 1500}, {"renew_interval_ms", 400}});
    EXPECT_EQ(c.lease.renew_interval, 400ms);
    EXPECT_EQ(c.lease.poll_interval, 400ms);
}

}  // namespace
