// Unit tests for processes[].warm, the warm standby opt-in of a managed process.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "af/config/config.hpp"

namespace {

using af::config::Config;
using af::config::ConfigError;
using af::config::parse_config;
using json = nlohmann::json;

json with_warm(json warm) {
    json j = json::parse(R"({
        "cluster": "prod",
        "node_id": "sched-a",
        "database": { "conninfo": "host=db1 dbname=failover user=failover" },
        "processes": [ { "name": "scheduler", "command": ["python", "-m", "x", "scheduler"] },
                       { "name": "triggerer", "command": ["airflow", "triggerer"] } ]
    })");
    if (!warm.is_null())
        j["processes"][0]["warm"] = std::move(warm);
    return j;
}

std::string error_text(const json& j) {
    try {
        parse_config(j.dump());
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

TEST(ConfigWarm, AbsentMeansColdStarts) {
    const Config c = parse_config(with_warm(nullptr).dump());
    EXPECT_FALSE(c.processes[0].warm_enabled());
    EXPECT_FALSE(c.election().processes[0].warm);
}

TEST(ConfigWarm, AnEmptyObjectEnablesItWithAnHourOfMaxAge) {
    const Config c = parse_config(with_warm(json::object()).dump());
    ASSERT_TRUE(c.processes[0].warm_enabled());
    EXPECT_EQ(c.processes[0].warm->max_age, std::chrono::hours(1));
    EXPECT_TRUE(c.election().processes[0].warm);
    EXPECT_EQ(c.election().processes[0].warm_max_age, af::Duration{3600000});
    EXPECT_FALSE(c.election().processes[1].warm) << "only the process that opted in";
}

TEST(ConfigWarm, AllKeys) {
    const Config c = parse_config(
        with_warm({{"enabled", true}, {"max_age_s", 600}, {"watch_paths", {"/opt/venv/lib"}}})
            .dump());
    EXPECT_EQ(c.processes[0].warm->max_age, std::chrono::minutes(10));
    EXPECT_EQ(c.processes[0].warm->watch_paths, std::vector<std::string>{"/opt/venv/lib"});
    const Config off = parse_config(with_warm({{"enabled", false}}).dump());
    EXPECT_FALSE(off.processes[0].warm_enabled());
    EXPECT_FALSE(off.election().processes[0].warm);
}

TEST(ConfigWarm, BadValuesNameTheirKey) {
    EXPECT_EQ(error_text(with_warm({{"enabled", "yes"}})),
              "processes[0].warm.enabled: must be true or false, got a string");
    EXPECT_NE(error_text(with_warm({{"max_age_s", 5}})).find("processes[0].warm.max_age_s"),
              std::string::npos);
    EXPECT_EQ(error_text(with_warm({{"watch_paths", {"venv"}}})),
              "processes[0].warm.watch_paths[0]: must be an absolute path");
    EXPECT_EQ(error_text(with_warm({{"max_age", 5}})), "processes[0].warm.max_age: unknown key");
    EXPECT_EQ(error_text(with_warm(json::array())), "processes[0].warm: must be an object");
}

}  // namespace
