// Unit tests for af::proc::child_environment: what a managed process sees of the daemon's
// environment. The oracle is written out by hand, not derived from the allowlist.
#include "af/proc/child_env.hpp"

#include <gtest/gtest.h>

#include <algorithm>
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
