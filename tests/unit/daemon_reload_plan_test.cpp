// SIGHUP's reload plan: what may change under a running election and what needs a restart.
#include "af/daemon/reload_plan.hpp"

#include <gtest/gtest.h>

#include "fakes/sim_cluster.hpp"

namespace {

using af::daemon::plan_reload;
using af::fakes::sim_config;
using json = nlohmann::json;

json with_health(int threshold) {
    return {{"processes",
             {{{"name", "scheduler"},
               {"command", {"/bin/true"}},
               {"health", {{"type", "airflow-db"}, {"failure_threshold", threshold}}}}}}};
}

TEST(ReloadPlan, AnUnchangedFileChangesNothing) {
    const auto p = plan_reload(sim_config("n1"), sim_config("n1"));
    EXPECT_TRUE(p.refused.empty());
    EXPECT_FALSE(p.processes_changed);
    EXPECT_FALSE(p.log_level);
}

TEST(ReloadPlan, ElectionSettingsAreRefusedByName) {
    const auto p =
        plan_reload(sim_config("n1"), sim_config("n1", {{"lease", {{"poll_interval_ms", 700}}},
                                                        {"priority", 7},
                                                        {"log", {{"level", "debug"}}}}));
    EXPECT_EQ(p.refused, (std::vector<std::string>{"lease", "priority"}));
    EXPECT_EQ(af::daemon::join_refused(p.refused), "lease, priority");
    EXPECT_EQ(p.log_level, "debug");
}

TEST(ReloadPlan, HealthLimitsApplyButACommandChangeNeedsARestart) {
    const auto running = sim_config("n1", with_health(3));
    const auto limits = plan_reload(running, sim_config("n1", with_health(5)));
    EXPECT_TRUE(limits.refused.empty());
    ASSERT_EQ(limits.health_limits.size(), 1u);
    EXPECT_EQ(limits.health_limits[0].first, "scheduler");
    EXPECT_EQ(limits.health_limits[0].second.failure_threshold, 5);

    const auto command = plan_reload(
        running,
        sim_config("n1", {{"processes", {{{"name", "scheduler"}, {"command", {"/bin/false"}}}}}}));
    EXPECT_EQ(command.refused, (std::vector<std::string>{"processes"}));
    EXPECT_TRUE(command.health_limits.empty());
}

}  // namespace
