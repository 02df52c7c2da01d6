// Unit tests for af::proc::child_environment: what a managed process sees of the daemon's
// environment. The oracle is written out by hand, not derived from the allowlist.
#include "af/proc/child_env.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

namespace {

using af::proc::child_environment;
using af::proc::EnvPolicy;
using af::proc::in_base_allowlist;

// What a daemon started by systemd with a libpq password in its environment looks like.
const char* const k_daemon_env[] = {"PATH=/usr/local/bin:/usr/bin:/bin",
                                    "HOME=/var/lib/airflow-failover",
                                    "LANG=C.UTF-8",
                                    "LC_TIME=de_DE.UTF-8",
                                    "TZ=Europe/Berlin",
                                    "USER=airflow-failover",
                                    "LOGNAME=airflow-failover",
                                    "PGPASSWORD=s3cret",
                                    "PGPASSFILE=/etc/airflow-failover/pgpass",
                                    "PGUSER=airflow_failover",
                                    "PGSERVICEFILE=/etc/airflow-failover/pg_service.conf",
                                    "AIRFLOW_FAILOVER_CONFIG=/etc/airflow-failover/config.json",
                                    "INVOCATION_ID=0123abcd",
                                    "NOTIFY_SOCKET=/run/systemd/notify",
                                    "WEIRD",
                                    "=nameless",
                                    nullptr};

TEST(ChildEnvironment, OnlyTheBaseAllowlistByDefault) {
    const std::vector<std::string> expected = {
        "AIRFLOW_FAILOVER_CONFIG=/etc/airflow-failover/config.json",
        "HOME=/var/lib/airflow-failover",
        "LANG=C.UTF-8",
        "LC_TIME=de_DE.UTF-8",
        "LOGNAME=airflow-failover",
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "TZ=Europe/Berlin",
        "USER=airflow-failover"};
    EXPECT_EQ(child_environment(k_daemon_env, EnvPolicy{}), expected);
}

TEST(ChildEnvironment, NamedVariablesAreInheritedAndSetOnesWin) {
    EnvPolicy p;
    p.inherit = {"PGSERVICEFILE", "NOT_THERE"};
    p.set = {{"AIRFLOW_FAILOVER_TERM", "7"}, {"PATH", "/opt/airflow/bin"}, {"X", "a=b"}};
    const auto env = child_environment(k_daemon_env, p);
    const std::vector<std::string> expected = {
        "AIRFLOW_FAILOVER_CONFIG=/etc/airflow-failover/config.json",
        "AIRFLOW_FAILOVER_TERM=7",
        "HOME=/var/lib/airflow-failover",
        "LANG=C.UTF-8",
        "LC_TIME=de_DE.UTF-8",
        "LOGNAME=airflow-failover",
        "PATH=/opt/airflow/bin",
        "PGSERVICEFILE=/etc/airflow-failover/pg_service.conf",
        "TZ=Europe/Berlin",
        "USER=airflow-failover",
        "X=a=b"};
    EXPECT_EQ(env, expected);
}

TEST(ChildEnvironment, InheritAllIsEverythingWellFormed) {
    EnvPolicy p;
    p.inherit_all = true;
    const auto env = child_environment(k_daemon_env, p);
    EXPECT_EQ(env.size(), 14u);  // 16 entries minus "WEIRD" and "=nameless"
    EXPECT_NE(std::find(env.begin(), env.end(), "PGPASSWORD=s3cret"), env.end());
}

TEST(ChildEnvironment, FirstDefinitionWinsLikeGetenv) {
    const char* const dup[] = {"PATH=/first", "PATH=/second", nullptr};
    EXPECT_EQ(child_environment(dup, EnvPolicy{}), std::vector<std::string>{"PATH=/first"});
}

TEST(ChildEnvironment, BaseAllowlistNames) {
    for (const char* yes : {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "USER", "LOGNAME",
                            "AIRFLOW_FAILOVER_NODE"})
        EXPECT_TRUE(in_base_allowlist(yes)) << yes;
    for (const char* no : {"PGPASSWORD", "PGPASSFILE", "PGHOST", "PGUSER", "LD_PRELOAD", "PATHX",
                           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "LANGUAGE2", "lc_all"})
        EXPECT_FALSE(in_base_allowlist(no)) << no;
}

}  // namespace

namespace {

using af::proc::ChildEnv;

// The variables every kind of child gets, written out by hand (docs/operations.md).
TEST(ChildEnv, AManagedProcessGetsItsConfigAndTheDaemonsNames) {
    const auto p = ChildEnv("c1", "n1")
                       .process("scheduler", {{"AIRFLOW_HOME", "/srv/airflow"}}, {"PGPASSFILE"})
                       .term(7)
                       .policy();
    const std::map<std::string, std::string> expected = {{"AIRFLOW_FAILOVER_CLUSTER", "c1"},
                                                         {"AIRFLOW_FAILOVER_NODE", "n1"},
                                                         {"AIRFLOW_FAILOVER_PROCESS", "scheduler"},
                                                         {"AIRFLOW_FAILOVER_TERM", "7"},
                                                         {"AIRFLOW_HOME", "/srv/airflow"}};
    EXPECT_EQ(p.set, expected);
    EXPECT_EQ(p.inherit, std::vector<std::string>{"PGPASSFILE"});
    EXPECT_FALSE(p.inherit_all);
}

TEST(ChildEnv, AWarmCopyHasItsChannelButNoTerm) {
    const auto p = ChildEnv("c1", "n1").process("scheduler", {}, {}).warm_fd(3).policy();
    EXPECT_EQ(p.set.count("AIRFLOW_FAILOVER_TERM"), 0u);
    EXPECT_EQ(p.set.at("AIRFLOW_FAILOVER_WARM_FD"), "3");
}

TEST(ChildEnv, AHookIsToldWhatHappened) {
    const auto p =
        ChildEnv("c1", "n1").hook("on_role_change", "promote", "active", 9, "n2").policy();
    const std::map<std::string, std::string> expected = {
        {"AIRFLOW_FAILOVER_ACTION", "promote"},
        {"AIRFLOW_FAILOVER_CLUSTER", "c1"},
        {"AIRFLOW_FAILOVER_HOOK", "on_role_change"},
        {"AIRFLOW_FAILOVER_NODE", "n1"},
        {"AIRFLOW_FAILOVER_PREVIOUS_HOLDER", "n2"},
        {"AIRFLOW_FAILOVER_ROLE", "active"},
        {"AIRFLOW_FAILOVER_TERM", "9"}};
    EXPECT_EQ(p.set, expected);
    EXPECT_TRUE(p.inherit.empty());
}

TEST(ChildEnv, TheGuardInheritsEverythingAndGetsNothingAdded) {
    const auto p = ChildEnv::daemon_helper().policy();
    EXPECT_TRUE(p.inherit_all);
    EXPECT_TRUE(p.set.empty());
}

}  // namespace
