// Per-term state is one struct, begun whole on a win and dropped whole at the end of a term:
// nothing from one term leaks into the next (a failing renewal, a switchover's target).
#include <gtest/gtest.h>

#include "fake_time.hpp"
#include "ready_actions.hpp"

#include "af/core/election.hpp"

namespace {

using namespace std::chrono_literals;
using af::core::Election;
using af::core::ElectionConfig;
using af::core::Ready;
using af::test::all;
using af::test::has_record;
using af::test::t;
namespace ev = af::core::ev;
namespace act = af::core::act;

ElectionConfig config() {
    ElectionConfig c;
    c.processes = {{"scheduler", 1000ms}};
    c.handover_cooldown = 0ms;
    return c;
}

ev::acquire_result won(std::int64_t term, long long sent_ms) {
    ev::acquire_result a;
    a.won = true;
    a.term = term;
    a.sent_at = t(sent_ms);
    return a;
}

TEST(TermState, AFailingRenewalOfTheLastTermIsNotCarriedIntoTheNext) {
    Election e(config(), "a");
    e.step(ev::tick{}, t(0));
    e.step(won(1, 0), t(5));
    e.step(ev::process_exited{"scheduler", "exited"}, t(6));  // restarts in place later
    const Ready failing = e.step(ev::db_failure{ev::db_op::renew, 1, "timeout"}, t(500));
    ASSERT_TRUE(has_record(failing, "renew_failing"));
    // The database says the lease is gone: the term ends once the process is dead.
    e.step(ev::renew_result{false, 1, t(600)}, t(610));
    e.step(ev::tick{}, t(2000));
    ASSERT_EQ(e.term(), 0);
    e.step(ev::tick{}, t(3000));
    e.step(won(2, 3000), t(3005));
    ASSERT_EQ(e.term(), 2);
    const Ready renewed = e.step(ev::renew_result{true, 2, t(3500)}, t(3510));
    EXPECT_FALSE(has_record(renewed, "renew_recovered"))
        << "term 2 never failed a renewal: the flag came from term 1";
}

TEST(TermState, ASwitchoverTargetIsForgottenWithItsTerm) {
    Election e(config(), "a");
    e.step(ev::tick{}, t(0));
    e.step(won(1, 0), t(5));
    e.step(ev::switchover{std::string("b"), "ops", 0}, t(100));
    const Ready stopped = e.step(ev::process_exited{"scheduler", "exited"}, t(200));
    ASSERT_EQ(all<act::release>(stopped).size(), 1u);
    EXPECT_EQ(all<act::release>(stopped)[0].reserved_for, "b");
    e.step(ev::release_result{1, true}, t(210));
    e.step(ev::tick{}, t(1000));
    e.step(won(2, 1000), t(1005));
    e.step(ev::stop_requested{"SIGTERM"}, t(1100));
    const Ready released = e.step(ev::process_exited{"scheduler", "exited"}, t(1200));
    ASSERT_EQ(all<act::release>(released).size(), 1u);
    EXPECT_EQ(all<act::release>(released)[0].reserved_for, "")
        << "a plain shutdown in term 2 reserved the lease for term 1's switchover target";
}

}  // namespace
