// The CLI's time arguments: pause --expires and switchover --at.
#include "af/cli/time_arg.hpp"

#include <gtest/gtest.h>

namespace {

using af::cli::parse_at;
using af::cli::parse_duration_ms;
using af::cli::TimeArgError;

TEST(TimeArg, DurationsNeedAUnit) {
    EXPECT_EQ(parse_duration_ms("--expires", "500ms"), 500);
    EXPECT_EQ(parse_duration_ms("--expires", "30s"), 30'000);
    EXPECT_EQ(parse_duration_ms("--expires", "+15m"), 900'000);
    EXPECT_EQ(parse_duration_ms("--expires", "2h"), 7'200'000);
    EXPECT_EQ(parse_duration_ms("--expires", "1d"), 86'400'000);
    for (const char* bad : {"30", "", "s", "-5s", "1.5h", "5 s", "0s", "10y", "1e3s"})
        EXPECT_THROW(parse_duration_ms("--expires", bad), TimeArgError) << bad;
    try {
        parse_duration_ms("--expires", "30");
        FAIL();
    } catch (const TimeArgError& e) {
        EXPECT_NE(std::string(e.what()).find("--expires needs a duration with a unit"),
                  std::string::npos)
            << e.what();
    }
}

TEST(TimeArg, AtTakesADelayOrLeavesTheInstantToTheDatabase) {
    auto rel = parse_at("--at", "+30s");
    ASSERT_TRUE(rel.in_ms);
    EXPECT_EQ(*rel.in_ms, 30'000);
    EXPECT_FALSE(rel.iso);
    // Instants are read by PostgreSQL (timestamp_on_db; tests/integration/test_cli_commands.py
    // checks 2026-02-31 and a missing offset against a real server).
    auto a = parse_at("--at", "2026-12-01T02:00:00Z");
    ASSERT_TRUE(a.iso);
    EXPECT_EQ(*a.iso, "2026-12-01T02:00:00Z");
    EXPECT_FALSE(a.in_ms);
    for (const char* bad : {"+30", "+", "+0s", "+1.5h"})
        EXPECT_THROW(parse_at("--at", bad), TimeArgError) << bad;
}

}  // namespace
