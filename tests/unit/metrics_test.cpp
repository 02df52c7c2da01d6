// The daemon's Prometheus metrics: a cluster label on every series, and each change of the
// active counted once, as a switchover or a failover, by the node that won the new term (the
// real Daemon on the fakes, simulated time).
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "af/metrics/metrics.hpp"
#include "fakes/sim_cluster.hpp"

namespace {

using af::Duration;
using af::fakes::SimCluster;
using af::metrics::Metrics;

/// The value of the sample line that starts with `series` (name and labels), or -1.
double value(const std::string& text, const std::string& series) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (line.rfind(series + " ", 0) == 0)
            return std::stod(line.substr(series.size() + 1));
    return -1;
}

double counter(const Metrics& m, const std::string& name) {
    return value(m.render({}), name + "{cluster=\"c1\"}");
}

TEST(Metrics, EverySeriesCarriesTheCluster) {
    Metrics m("c1", "n1", "9.9");
    m.event("became_active");
    m.database_error("renew");
    m.process_started("scheduler", false);
    m.observe_renew_latency(Duration{3});
    af::metrics::Snapshot s;
    s.role = "active";
    s.heartbeat = af::metrics::Snapshot::Heartbeat{};
    s.heartbeat->dropped["bad_mac"] = 2;
    s.peer_age_s["n2"] = 0.5;
    const std::string text = m.render(s);
    std::istringstream in(text);
    int samples = 0;
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#')
            continue;
        ++samples;
        EXPECT_NE(line.find("{cluster=\"c1\""), std::string::npos) << line;
    }
    EXPECT_GT(samples, 40);
    EXPECT_EQ(value(text, R"(airflow_failover_info{cluster="c1",node="n1",version="9.9"})"), 1);
    EXPECT_EQ(value(text, R"(airflow_failover_peer_last_heard_seconds{cluster="c1",peer="n2"})"),
              0.5);
    // Rare kinds exist at zero from the start: increase() sees their first event.
    EXPECT_EQ(value(text, R"(airflow_failover_events_total{cluster="c1",kind="processes_frozen"})"),
              0);
}

TEST(Metrics, ASwitchoverAndAFailoverAreCountedApartByTheWinner) {
    SimCluster c;
    Metrics m1("c1", "n1", "t"), m2("c1", "n2", "t");
    af::daemon::Extras x1, x2;
    x1.metrics = &m1;
    x2.metrics = &m2;
    c.add("n1").start(std::move(x1));
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &c["n1"]; }));
    c.add("n2").start(std::move(x2));
    c.clock.run_for(Duration{2000});
    // The cluster's first term is neither.
    for (const Metrics* m : {&m1, &m2}) {
        EXPECT_EQ(counter(*m, "airflow_failover_failovers_total"), 0);
        EXPECT_EQ(counter(*m, "airflow_failover_switchovers_total"), 0);
    }

    c["n1"].commands.switchover("n2");
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &c["n2"]; }));
    EXPECT_EQ(counter(m2, "airflow_failover_switchovers_total"), 1);
    EXPECT_EQ(counter(m2, "airflow_failover_failovers_total"), 0);
    EXPECT_EQ(counter(m1, "airflow_failover_switchovers_total"), 0);

    // n2's daemon is killed: its guard releases the lease, and n1's new term is a failover,
    // although the lease was released rather than left to expire.
    c["n2"].kill_daemon(c.db);
    ASSERT_TRUE(c.run_until([&] { return c.serving() == &c["n1"]; }));
    EXPECT_EQ(counter(m1, "airflow_failover_failovers_total"), 1);
    EXPECT_EQ(counter(m1, "airflow_failover_switchovers_total"), 0);
    EXPECT_EQ(c.world.overlaps, 0);
}

}  // namespace
