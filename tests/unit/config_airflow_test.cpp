// Unit tests for the `airflow` (takeover step) and `hooks` sections of the configuration.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "af/config/config.hpp"

namespace {

using af::config::Config;
using af::config::ConfigError;
using af::config::parse_config;
using json = nlohmann::json;
using namespace std::chrono_literals;

json base() {
    return json::parse(R"({
        "cluster": "prod",
        "node_id": "sched-a",
        "database": { "conninfo": "host=db1 dbname=failover user=failover" },
        "processes": [ { "name": "scheduler", "command": ["airflow", "scheduler"] } ]
    })");
}

json with_airflow(json airflow) {
    json j = base();
    j["airflow"] = std::move(airflow);
    return j;
}

/// The key a ConfigError names, or "" if the text parsed.
std::string error_key(const json& j) {
    try {
        parse_config(j.dump());
    } catch (const ConfigError& e) {
        return e.key();
    }
    return "";
}

std::string error_text(const json& j) {
    try {
        parse_config(j.dump());
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

TEST(ConfigAirflow, AbsentWithoutAnAirflowProcessMeansNoTakeoverAndNoHooks) {
    json j = base();
    j["processes"] = json::parse(R"([{"name": "s", "command": ["/usr/local/bin/run-sched"]}])");
    const Config c = parse_config(j.dump());
    EXPECT_FALSE(c.airflow.has_value());
    EXPECT_FALSE(c.election().takeover);
    EXPECT_FALSE(c.election().pre_promote);
    EXPECT_FALSE(c.election().role_change_hook);
}

TEST(ConfigAirflow, AnAirflowSingletonTurnsTheTakeoverOnWithoutASection) {
    // The issue's config: one process, `airflow scheduler`, no airflow section.
    const Config c = parse_config(base().dump());
    ASSERT_TRUE(c.airflow.has_value());
    EXPECT_TRUE(c.airflow->takeover);
    EXPECT_TRUE(c.airflow->hostnames.empty()) << "found in the node rows instead";
    EXPECT_EQ(c.airflow->conninfo, "host=db1 dbname=failover user=failover");
    EXPECT_EQ(c.airflow->job_types, (std::vector<std::string>{"SchedulerJob"}));
    EXPECT_EQ(c.election().takeover, 2000ms);
    for (const auto& cmd :
         {R"(["/opt/airflow/venv/bin/airflow", "dag-processor"])",
          R"(["python3", "-m", "airflow", "triggerer"])",
          R"(["/opt/venv/bin/python", "-m", "airflow_failover_warm", "scheduler"])"}) {
        json j = base();
        j["processes"][0]["command"] = json::parse(cmd);
        EXPECT_TRUE(parse_config(j.dump()).election().takeover) << cmd;
    }
    for (const auto& cmd : {R"(["/opt/airflow/venv/bin/airflow", "api-server"])",
                            R"(["/usr/bin/my-scheduler", "scheduler"])"}) {
        json j = base();
        j["processes"][0]["command"] = json::parse(cmd);
        EXPECT_FALSE(parse_config(j.dump()).airflow.has_value()) << cmd;
    }
}

TEST(ConfigAirflow, TakeoverEnabledFalseTurnsTheDefaultOff) {
    const Config c = parse_config(with_airflow({{"takeover", {{"enabled", false}}}}).dump());
    ASSERT_TRUE(c.airflow.has_value());
    EXPECT_FALSE(c.airflow->takeover);
    EXPECT_FALSE(c.election().takeover);
}

TEST(ConfigAirflow, ThisNodesHostnameIsTheAirflowDbChecksDefault) {
    json j = with_airflow({{"hostnames", {{"sched-a", "a.example.com"}}}});
    j["processes"][0]["health"] = {{"type", "airflow-db"}};
    const Config c = parse_config(j.dump());
    EXPECT_EQ(std::get<af::config::AirflowDbHealth>(c.processes[0].health->check).hostname,
              "a.example.com");
    j["processes"][0]["health"]["hostname"] = "explicit";
    EXPECT_EQ(
        std::get<af::config::AirflowDbHealth>(parse_config(j.dump()).processes[0].health->check)
            .hostname,
        "explicit");
    j = base();
    j["processes"][0]["health"] = {{"type", "airflow-db"}};
    EXPECT_EQ(
        std::get<af::config::AirflowDbHealth>(parse_config(j.dump()).processes[0].health->check)
            .hostname,
        "")
        << "left to Airflow's rule, resolved by the check on the host";
}

TEST(ConfigAirflow, HostnamesAloneTurnTheTakeoverOnWithDefaults) {
    const Config c = parse_config(
        with_airflow({{"hostnames", {{"sched-a", "a.example.com"}, {"sched-b", "b.example.com"}}}})
            .dump());
    ASSERT_TRUE(c.airflow.has_value());
    EXPECT_EQ(c.airflow->conninfo, "host=db1 dbname=failover user=failover")
        << "defaults to database.conninfo";
    EXPECT_EQ(c.airflow->schema, "");
    EXPECT_EQ(c.airflow->hostnames.at("sched-b"), "b.example.com");
    EXPECT_TRUE(c.airflow->takeover);
    EXPECT_EQ(c.airflow->job_types, (std::vector<std::string>{"SchedulerJob"}))
        << "only the scheduler runs under this daemon";
    EXPECT_EQ(c.airflow->takeover_timeout, 2000ms);
    EXPECT_TRUE(c.election().takeover);
    EXPECT_EQ(c.election().takeover, 2000ms);
}

TEST(ConfigAirflow, DefaultJobTypesAreThoseTheDaemonRuns) {
    json j = with_airflow({{"hostnames", {{"sched-a", "a"}}}});
    j["processes"] = json::parse(R"([
        {"name": "scheduler", "command": ["/opt/af/bin/airflow", "scheduler"]},
        {"name": "triggerer", "command": ["/opt/af/bin/airflow", "triggerer"]}])");
    EXPECT_EQ(parse_config(j.dump()).airflow->job_types,
              (std::vector<std::string>{"SchedulerJob", "TriggererJob"}));
    j["processes"] = json::parse(R"([{"name": "s", "command": ["/usr/local/bin/run-sched"]}])");
    EXPECT_EQ(parse_config(j.dump()).airflow->job_types, (std::vector<std::string>{"SchedulerJob"}))
        << "a wrapper script: the scheduler is assumed";
}

TEST(ConfigAirflow, EverySettingIsRead) {
    const Config c = parse_config(with_airflow(json::parse(R"({
        "conninfo": "host=db2 dbname=airflow user=failover",
        "schema": "airflow",
        "hostnames": {"sched-a": "a", "sched-b": "b"},
        "takeover": {"enabled": false, "job_types": ["SchedulerJob"], "timeout_ms": 500}
    })"))
                                      .dump());
    EXPECT_EQ(c.airflow->conninfo, "host=db2 dbname=airflow user=failover");
    EXPECT_EQ(c.airflow->schema, "airflow");
    EXPECT_FALSE(c.airflow->takeover);
    EXPECT_EQ(c.airflow->job_types, (std::vector<std::string>{"SchedulerJob"}));
    EXPECT_EQ(c.airflow->takeover_timeout, 500ms);
    EXPECT_FALSE(c.election().takeover) << "enabled: false turns the step off";
}

TEST(ConfigAirflow, BadValuesNameTheirKey) {
    EXPECT_EQ(error_key(with_airflow(json::object())), "") << "every key is optional";
    EXPECT_EQ(error_key(with_airflow({{"hostnames", {{"sched-b", "b"}}}})), "")
        << "this node's own entry is optional too (Airflow's rule)";
    EXPECT_EQ(error_key(with_airflow({{"hostnames", json::array()}})), "airflow.hostnames");
    EXPECT_EQ(error_key(with_airflow(5)), "airflow");
    EXPECT_EQ(error_key(with_airflow({{"takeover", {{"enable", false}}}})),
              "airflow.takeover.enable")
        << "a typo of enabled";
    EXPECT_EQ(error_key(with_airflow({{"hostnames", {{"sched-a", "a b"}}}})),
              "airflow.hostnames.sched-a");
    EXPECT_EQ(error_key(with_airflow({{"hostnames", {{"sched-a", 5}}}})),
              "airflow.hostnames.sched-a");
    EXPECT_EQ(error_key(with_airflow({{"hostnames", {{"sched-a", "a"}, {"bad node!", "b"}}}})),
              "airflow.hostnames.bad node!");
    EXPECT_EQ(error_key(with_airflow(
                  {{"hostnames", {{"sched-a", "a"}}}, {"conninfo", "host=x password=hunter2"}})),
              "airflow.conninfo");
    EXPECT_EQ(error_text(with_airflow({{"hostnames", {{"sched-a", "a"}}},
                                       {"conninfo", "host=x password=hunter2"}}))
                  .find("hunter2"),
              std::string::npos)
        << "a secret must not be echoed in the error";
    EXPECT_EQ(error_key(with_airflow({{"hostnames", {{"sched-a", "a"}}}, {"schema", "Bad-Name"}})),
              "airflow.schema");
    EXPECT_EQ(error_key(with_airflow({{"hostnames", {{"sched-a", "a"}}}, {"hostname", "a"}})),
              "airflow.hostname")
        << "typos are unknown keys";
    EXPECT_EQ(error_key(with_airflow({{"hostnames", {{"sched-a", "a"}}},
                                      {"takeover", {{"job_types", {"WorkerJob"}}}}})),
              "airflow.takeover.job_types[0]");
    EXPECT_EQ(
        error_key(with_airflow({{"hostnames", {{"sched-a", "a"}}},
                                {"takeover", {{"job_types", {"SchedulerJob", "SchedulerJob"}}}}})),
        "airflow.takeover.job_types[1]");
    EXPECT_EQ(error_key(with_airflow({{"hostnames", {{"sched-a", "a"}}},
                                      {"takeover", {{"job_types", json::array()}}}})),
              "airflow.takeover.job_types");
    EXPECT_EQ(error_key(with_airflow(
                  {{"hostnames", {{"sched-a", "a"}}}, {"takeover", {{"enabled", "yes"}}}})),
              "airflow.takeover.enabled");
    EXPECT_EQ(error_key(with_airflow(
                  {{"hostnames", {{"sched-a", "a"}}}, {"takeover", {{"timeout_ms", 10}}}})),
              "airflow.takeover.timeout_ms");
}

TEST(ConfigHooks, BothHooksAreReadWithTheirTimeouts) {
    json j = base();
    j["hooks"] = json::parse(R"({
        "on_role_change": {"command": ["/usr/local/bin/notify", "--x"]},
        "pre_promote": {"command": ["/usr/local/bin/may-promote"], "timeout_ms": 800}
    })");
    const Config c = parse_config(j.dump());
    ASSERT_TRUE(c.hooks.on_role_change.has_value());
    EXPECT_EQ(c.hooks.on_role_change->command,
              (std::vector<std::string>{"/usr/local/bin/notify", "--x"}));
    EXPECT_EQ(c.hooks.on_role_change->timeout, 30000ms);
    ASSERT_TRUE(c.hooks.pre_promote.has_value());
    EXPECT_EQ(c.hooks.pre_promote->timeout, 800ms);
    EXPECT_TRUE(c.election().pre_promote);
    EXPECT_EQ(c.election().pre_promote, 800ms);
    EXPECT_TRUE(c.election().role_change_hook);
}

TEST(ConfigHooks, BadHooksNameTheirKey) {
    auto hooks = [](json h) {
        json j = base();
        j["hooks"] = std::move(h);
        return error_key(j);
    };
    EXPECT_EQ(hooks({{"on_role_change", {{"command", json::array()}}}}),
              "hooks.on_role_change.command");
    EXPECT_EQ(hooks({{"on_role_change", {{"command", "notify.sh"}}}}),
              "hooks.on_role_change.command");
    EXPECT_EQ(hooks({{"pre_promote", {{"command", {"x"}}, {"timeout_ms", 700000}}}}),
              "hooks.pre_promote.timeout_ms");
    EXPECT_EQ(hooks({{"post_promote", {{"command", {"x"}}}}}), "hooks.post_promote");
    EXPECT_EQ(hooks({{"pre_promote", {{"command", {"x"}}, {"argv", {"y"}}}}}),
              "hooks.pre_promote.argv");
}

}  // namespace
