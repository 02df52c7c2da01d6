// Health checks: the tracker's verdicts (start period, threshold, recovery) and the election
// core's handling of an unhealthy process (killed, counted as a crash, restarted in place).
#include <gtest/gtest.h>

#include "fake_time.hpp"

#include <variant>

#include "af/core/election.hpp"
#include "af/health/health_tracker.hpp"

namespace {

using namespace std::chrono_literals;
using af::TimePoint;
using af::core::Election;
using af::core::ElectionConfig;
using af::core::ProcState;
namespace ev = af::core::ev;
namespace act = af::core::act;

using af::test::t;

TEST(HealthTracker, FailuresInTheStartPeriodDoNotCount) {
    af::health::HealthTracker h(2, 10000ms);
    h.reset(t(0));
    EXPECT_FALSE(h.record(false, t(1000)));
    EXPECT_FALSE(h.record(false, t(2000)));
    EXPECT_FALSE(h.record(false, t(9999)));
    EXPECT_EQ(h.state(), "starting");
    EXPECT_FALSE(h.record(false, t(10000)));
    EXPECT_TRUE(h.record(false, t(11000))) << "two failures in a row after the start period";
}

TEST(HealthTracker, ASuccessEndsTheStartPeriodAndResetsTheCount) {
    af::health::HealthTracker h(3, 60000ms);
    h.reset(t(0));
    EXPECT_FALSE(h.record(true, t(100)));
    EXPECT_EQ(h.state(), "healthy");
    EXPECT_FALSE(h.record(false, t(200)));
    EXPECT_FALSE(h.record(false, t(300)));
    EXPECT_EQ(h.state(), "failing 2/3");
    EXPECT_FALSE(h.record(true, t(400))) << "a success in between resets the count";
    EXPECT_FALSE(h.record(false, t(500)));
    EXPECT_FALSE(h.record(false, t(600)));
    EXPECT_TRUE(h.record(false, t(700)));
    EXPECT_FALSE(h.record(false, t(800))) << "the count starts again after a verdict";
}

template <class T>
bool has(const af::core::Ready& r) {
    for (const auto& a : r.actions)
        if (std::holds_alternative<T>(a))
            return true;
    return false;
}

TEST(ElectionHealth, UnhealthyProcessIsKilledAndRestartedInPlace) {
    ElectionConfig cfg;
    cfg.processes = {{"scheduler", 10000ms}};
    Election e(cfg, "a");
    ASSERT_TRUE(has<act::try_acquire>(e.step(ev::tick{}, t(0))));
    auto won = e.step(ev::acquire_result{true, 1, std::string("a"), 0ms, t(0), "", false}, t(5));
    ASSERT_TRUE(has<act::start_process>(won));
    auto sick = e.step(ev::process_unhealthy{"scheduler", "heartbeat 40 s old"}, t(100));
    EXPECT_TRUE(has<act::kill_process>(sick)) << "killed at once, not asked to stop";
    EXPECT_EQ(e.process_state("scheduler"), ProcState::stopping);
    auto gone = e.step(ev::process_exited{"scheduler", "killed by signal 9"}, t(120));
    bool crash_noted = false;
    for (const auto& a : gone.actions)
        if (const auto* r = std::get_if<act::record>(&a))
            crash_noted |= r->kind == "restart_scheduled";
    EXPECT_TRUE(crash_noted) << "an unhealthy kill counts as a crash";
    EXPECT_EQ(e.term(), 1);
    // renew to keep the lease, then the backoff passes and it starts again in the same term
    e.step(ev::renew_result{true, 1, t(500)}, t(505));
    bool restarted = false;
    for (long long now = 600; now < 2000 && !restarted; now += 50) {
        auto r = e.step(ev::tick{}, t(now));
        for (const auto& a : r.actions) {
            if (const auto* s = std::get_if<act::start_process>(&a)) {
                restarted = true;
                EXPECT_EQ(s->term, 1);
            }
            if (std::holds_alternative<act::renew>(a))
                e.step(ev::renew_result{true, 1, t(now)}, t(now));
        }
    }
    EXPECT_TRUE(restarted);
}

TEST(ElectionHealth, UnhealthyReportForAStoppedProcessIsIgnored) {
    ElectionConfig cfg;
    cfg.processes = {{"scheduler", 10000ms}};
    Election e(cfg, "a");
    e.step(ev::tick{}, t(0));
    const auto r = e.step(ev::process_unhealthy{"scheduler", "late"}, t(10));
    EXPECT_TRUE(r.actions.empty()) << "a standby has nothing to kill";
}

}  // namespace
