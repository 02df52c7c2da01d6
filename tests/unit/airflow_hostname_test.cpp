// Airflow's default hostname rule (airflow.utils.net.getfqdn), with the host's lookups injected;
// tests/airflow/test_airflow_hostname.py compares it with Airflow itself on a real host.
#include <gtest/gtest.h>

#include "af/airflow/job_hostname.hpp"

namespace {

using af::airflow::airflow_fqdn;
using af::airflow::HostLookup;
using af::airflow::job_hostname;

HostLookup lookup(std::string host, std::optional<std::vector<std::string>> names,
                  std::string* asked = nullptr) {
    return {[host] { return host; },
            [names, asked](const std::string& n) {
                if (asked)
                    *asked = n;
                return names;
            }};
}

TEST(AirflowHostname, TheCanonicalNameOfGethostnameWins) {
    std::string asked;
    // EC2: gethostname() is the short name, the resolver's canonical name the FQDN.
    EXPECT_EQ(
        airflow_fqdn(lookup("ip-10-0-0-12",
                            std::vector<std::string>{"ip-10-0-0-12.ec2.internal", ""}, &asked)),
        "ip-10-0-0-12.ec2.internal");
    EXPECT_EQ(asked, "ip-10-0-0-12") << "the lookup is of gethostname()";
}

TEST(AirflowHostname, TheFirstNonEmptyCanonicalNameCounts) {
    EXPECT_EQ(airflow_fqdn(lookup("h", std::vector<std::string>{"", "second.example", "third"})),
              "second.example");
}

TEST(AirflowHostname, FallsBackToGethostname) {
    EXPECT_EQ(airflow_fqdn(lookup("sched-a", std::nullopt)), "sched-a") << "lookup failed";
    EXPECT_EQ(airflow_fqdn(lookup("sched-a", std::vector<std::string>{})), "sched-a")
        << "no answer";
    EXPECT_EQ(airflow_fqdn(lookup("sched-a", std::vector<std::string>{"", ""})), "sched-a")
        << "no canonical name";
}

TEST(AirflowHostname, NoDotRuleAsInPythonsOwnGetfqdn) {
    // socket.getfqdn prefers an alias with a dot; Airflow's patched getfqdn takes the canonical
    // name as it is.
    EXPECT_EQ(airflow_fqdn(lookup("sched-a", std::vector<std::string>{"sched-a"})), "sched-a");
}

TEST(AirflowHostname, TheConfiguredNameOfThisNodeBeatsTheRule) {
    auto c = af::config::parse_config(R"({
        "cluster": "prod", "node_id": "sched-a",
        "database": { "conninfo": "host=db" },
        "processes": [ { "name": "scheduler", "command": ["airflow", "scheduler"] } ],
        "airflow": { "hostnames": { "sched-a": "a.example.com", "sched-b": "b.example.com" } }
    })");
    const auto l = lookup("short", std::vector<std::string>{"short.example"});
    EXPECT_EQ(job_hostname(c, l).hostname, "a.example.com");
    EXPECT_EQ(job_hostname(c, l).source, "airflow.hostnames.sched-a");
    c.airflow->hostnames.erase("sched-a");
    EXPECT_EQ(job_hostname(c, l).hostname, "short.example") << "another node's entry is no answer";
    c.airflow.reset();
    EXPECT_EQ(job_hostname(c, l).hostname, "short.example");
}

TEST(AirflowHostname, TheSystemLookupAnswersForThisHost) {
    // Real gethostname and getaddrinfo: whatever this host says, the rule gives a name.
    EXPECT_FALSE(airflow_fqdn(af::airflow::system_lookup()).empty());
}

}  // namespace
