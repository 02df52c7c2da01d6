// The configuration keys of the heartbeat, priority/failback, health-check and fencing features.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "af/config/config.hpp"

namespace {

using af::config::ConfigError;
using af::config::parse_config;
using json = nlohmann::json;
using namespace std::chrono_literals;

json base() {
    return json::parse(R"({
        "cluster": "prod", "node_id": "sched-a",
        "database": { "conninfo": "host=db1 dbname=airflow user=failover" },
        "processes": [ { "name": "scheduler", "command": ["airflow", "scheduler"] } ],
        "heartbeat": { "listen": "0.0.0.0:8711", "peers": { "sched-b": "10.0.0.12:8711" },
                       "secret_file": "/etc/airflow-failover/heartbeat.key" }
    })");
}

TEST(ConfigHeartbeat, DefaultsAndElectionSettings) {
    const auto c = parse_config(base().dump());
    ASSERT_TRUE(c.heartbeat.has_value());
    EXPECT_EQ(c.heartbeat->listen_host, "0.0.0.0");
    EXPECT_EQ(c.heartbeat->listen_port, 8711);
    EXPECT_EQ(c.heartbeat->peers.at("sched-b").first, "10.0.0.12");
    EXPECT_EQ(c.heartbeat->interval, 200ms);
    EXPECT_EQ(c.priority, 100);
    EXPECT_FALSE(c.failback);
    const auto e = c.election();
    EXPECT_TRUE(e.heartbeats());
    EXPECT_EQ(e.miss_window(), 600ms);
    EXPECT_EQ(e.heartbeat->slow_poll, 2000ms);
}

TEST(ConfigHeartbeat, NoSectionMeansDatabaseOnly) {
    json j = base();
    j.erase("heartbeat");
    const auto c = parse_config(j.dump());
    EXPECT_FALSE(c.heartbeat.has_value());
    EXPECT_FALSE(c.election().heartbeats());
}

struct Bad {
    const char* what;
    std::function<void(json&)> edit;
    const char* key;
    const char* fragment;
};

TEST(ConfigHeartbeat, BadInputsNameTheKeyAndTheRule) {
    const std::vector<Bad> cases = {
        {"no secret", [](json& j) { j["heartbeat"].erase("secret_file"); }, "heartbeat.secret_file",
         "insecure"},
        {"secret and insecure", [](json& j) { j["heartbeat"]["insecure"] = true; },
         "heartbeat.insecure", "cannot be true together"},
        {"listen without port", [](json& j) { j["heartbeat"]["listen"] = "0.0.0.0"; },
         "heartbeat.listen", "HOST:PORT"},
        {"port out of range", [](json& j) { j["heartbeat"]["listen"] = "0.0.0.0:70000"; },
         "heartbeat.listen", "1-65535"},
        {"peer is self", [](json& j) { j["heartbeat"]["peers"]["sched-a"] = "10.0.0.11:8711"; },
         "heartbeat.peers.sched-a", "this node itself"},
        {"no peers", [](json& j) { j["heartbeat"]["peers"] = json::object(); }, "heartbeat.peers",
         "non-empty"},
        {"detection slower than the lease",
         [](json& j) {
             j["heartbeat"]["interval_ms"] = 1000;
             j["heartbeat"]["miss_count"] = 3;
         },
         "heartbeat.interval_ms", "below lease.ttl_ms"},
        {"unknown heartbeat key", [](json& j) { j["heartbeat"]["intervall_ms"] = 100; },
         "heartbeat.intervall_ms", "unknown key"},
        {"priority too high", [](json& j) { j["priority"] = 300; }, "priority",
         "between 0 and 255"},
        {"failback not a bool", [](json& j) { j["failback"] = "yes"; }, "failback",
         "true or false"},
        {"failback without heartbeats",
         [](json& j) {
             j.erase("heartbeat");
             j["failback"] = true;
         },
         "failback", "needs a heartbeat"},
        {"health type",
         [](json& j) {
             j["processes"][0]["health"] = {{"type", "ping"}};
         },
         "processes[0].health.type", "airflow-db"},
        {"health url scheme",
         [](json& j) {
             j["processes"][0]["health"] = {{"type", "http"}, {"url", "https://x/health"}};
         },
         "processes[0].health.url", "http://"},
        {"health command empty",
         [](json& j) {
             j["processes"][0]["health"] = {{"type", "command"}, {"command", json::array()}};
         },
         "processes[0].health.command", "non-empty"},
        {"health password",
         [](json& j) {
             j["processes"][0]["health"] = {{"type", "airflow-db"},
                                            {"conninfo", "host=x password=secret"}};
         },
         "processes[0].health.conninfo", "must not contain a password"},
        {"fencing without own role",
         [](json& j) {
             j["fencing"] = {{"database_roles", {{"sched-b", "sched_b"}}}};
         },
         "fencing.database_roles", "this node"},
        {"fencing bad role",
         [](json& j) {
             j["fencing"] = {{"database_roles", {{"sched-a", "Sched A"}}}};
         },
         "fencing.database_roles.sched-a", "role name"},
        {"fencing key breaking out of the function body (issue 22)",
         [](json& j) {
             j["fencing"] = {{"database_roles",
                              {{"sched-a", "sched_a"}, {"x$fn$; ALTER ROLE a SUPERUSER", "b"}}}};
         },
         "fencing.database_roles.x$fn$; ALTER ROLE a SUPERUSER", "node id"},
    };
    for (const auto& c : cases) {
        json j = base();
        c.edit(j);
        try {
            parse_config(j.dump());
            ADD_FAILURE() << c.what << ": accepted";
        } catch (const ConfigError& e) {
            EXPECT_EQ(e.key(), c.key) << c.what << ": " << e.what();
            EXPECT_NE(std::string(e.what()).find(c.fragment), std::string::npos)
                << c.what << ": " << e.what();
        }
    }
}

TEST(ConfigHeartbeat, EachHealthTypeParsesIntoItsOwnStruct) {
    json j = base();
    j["processes"][0]["health"] = {{"type", "http"}, {"url", "http://127.0.0.1:8974/health"}};
    auto c = parse_config(j.dump());
    ASSERT_EQ(c.processes[0].health->kind(), af::config::HealthKind::http);
    EXPECT_EQ(std::get<af::config::HttpHealth>(c.processes[0].health->check).url,
              "http://127.0.0.1:8974/health");
    EXPECT_STREQ(af::config::to_string(c.processes[0].health->kind()), "http");
    j["processes"][0]["health"] = {{"type", "command"}, {"command", {"true"}}};
    c = parse_config(j.dump());
    ASSERT_EQ(c.processes[0].health->kind(), af::config::HealthKind::command);
    EXPECT_EQ(std::get<af::config::CommandHealth>(c.processes[0].health->check).command,
              std::vector<std::string>{"true"});
    // A key of another type is unknown here, not silently kept.
    j["processes"][0]["health"] = {{"type", "command"}, {"command", {"true"}}, {"url", "http://x"}};
    try {
        parse_config(j.dump());
        FAIL() << "url accepted on a command check";
    } catch (const af::config::ConfigError& e) {
        EXPECT_EQ(e.key(), "processes[0].health.url");
    }
}

TEST(ConfigHeartbeat, HealthAndFencingParse) {
    json j = base();
    j["processes"][0]["health"] = {
        {"type", "airflow-db"}, {"hostname", "h1"}, {"max_age_ms", 15000}};
    j["fencing"] = {{"database_roles", {{"sched-a", "sched_a"}, {"sched-b", "sched_b"}}}};
    const auto c = parse_config(j.dump());
    ASSERT_TRUE(c.processes[0].health.has_value());
    const auto& hc = *c.processes[0].health;
    ASSERT_EQ(hc.kind(), af::config::HealthKind::airflow_db);
    const auto& h = std::get<af::config::AirflowDbHealth>(hc.check);
    EXPECT_EQ(h.conninfo, "host=db1 dbname=airflow user=failover") << "defaults to the daemon's";
    EXPECT_EQ(h.job_type, "SchedulerJob");
    EXPECT_EQ(h.max_age, 15000ms);
    EXPECT_EQ(hc.failure_threshold, 3);
    EXPECT_EQ(c.fence_roles.at("sched-b"), "sched_b");
}

}  // namespace
