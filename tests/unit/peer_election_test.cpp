// What the election core does with peer heartbeats: slow polling while the active is heard,
// a quick read when it goes silent, the best standby first after a release, failback, and
// switchover validation. Heartbeats only ever change *when* the database is asked.
#include <gtest/gtest.h>

#include "fake_time.hpp"

#include <string>
#include <variant>

#include "af/core/election.hpp"

namespace {

using namespace std::chrono_literals;
using af::TimePoint;
using af::core::Election;
using af::core::ElectionConfig;
using af::core::Ready;
using af::core::Role;
namespace ev = af::core::ev;
namespace act = af::core::act;

using af::test::t;

ElectionConfig hb_config(int priority) {
    ElectionConfig c;
    c.processes = {{"scheduler", 1000ms}};
    c.heartbeats = true;
    c.priority = priority;
    return c;
}

template <class T>
int count(const Ready& r) {
    int n = 0;
    for (const auto& a : r.actions)
        n += std::holds_alternative<T>(a);
    return n;
}

ev::peer_heartbeat beat(std::string node, bool active, int priority = 100, bool releasing = false) {
    return ev::peer_heartbeat{std::move(node), active,    !active, active ? 1 : 0,
                              priority,        releasing, true};
}

TEST(PeerElection, StandbyPollsSlowlyWhileTheActiveIsHeardAndQuicklyWhenItGoesSilent) {
    Election e(hb_config(100), "b");
    ASSERT_EQ(count<act::try_acquire>(e.step(beat("a", true), t(1))), 1);
    const Ready lost =
        e.step(ev::acquire_result{false, 1, std::string("a"), 2900ms, t(1), "", false}, t(3));
    EXPECT_EQ(lost.next_wakeup, t(1) + 600ms) << "wake when the active would count as silent";
    // The active keeps beating: no database read before the slow poll.
    int reads = 0;
    for (long long now = 200; now < 2000; now += 200) {
        const Ready r = e.step(beat("a", true), t(now));
        reads += count<act::try_acquire>(r);
    }
    EXPECT_EQ(reads, 0);
    EXPECT_EQ(count<act::try_acquire>(e.step(ev::tick{}, t(2003))), 1) << "the slow poll";
    e.step(ev::acquire_result{false, 1, std::string("a"), 2900ms, t(2003), "", false}, t(2005));
    // Now silence: 600 ms after the last beat (at 1800) the standby reads at once.
    const Ready r = e.step(ev::tick{}, t(2401));
    EXPECT_EQ(count<act::try_acquire>(r), 1);
}

// The active is cut off from the database only: its heartbeats still arrive, so the standby
// polls slowly; but past its deadline it beats as a standby (it killed its processes), and the
// standby reads the lease at once instead of at the next slow poll.
TEST(PeerElection, TheWatchedHolderBeatingAsAStandbyMakesTheStandbyReadAtOnce) {
    Election e(hb_config(100), "b");
    ASSERT_EQ(count<act::try_acquire>(e.step(beat("a", true), t(1))), 1);
    e.step(ev::acquire_result{false, 1, std::string("a"), 2900ms, t(1), "", false}, t(3));
    EXPECT_EQ(count<act::try_acquire>(e.step(beat("a", true), t(200))), 0);
    const Ready r = e.step(beat("a", false), t(400));
    EXPECT_EQ(count<act::try_acquire>(r), 1) << "no read although the holder stopped being active";
    // The lease has not expired yet: the answer names the time left, and the next try is then.
    const Ready lost =
        e.step(ev::acquire_result{false, 1, std::string("a"), 120ms, t(400), "", false}, t(402));
    EXPECT_LE(lost.next_wakeup, t(402) + 130ms);
    EXPECT_EQ(count<act::try_acquire>(e.step(ev::tick{}, t(532))), 1);
}

TEST(PeerElection, TheBestStandbyGoesFirstAfterARelease) {
    Election low(hb_config(100), "b");
    Election high(hb_config(200), "c");
    for (auto* e : {&low, &high}) {
        e->step(beat("a", true), t(0));
        e->step(ev::tick{}, t(1));
        e->step(ev::acquire_result{false, 1, std::string("a"), 2900ms, t(1), "", false}, t(2));
    }
    low.step(beat("c", false, 200), t(10));
    high.step(beat("b", false, 100), t(10));
    const Ready hr = high.step(beat("a", true, 100, /*releasing=*/true), t(100));
    const Ready lr = low.step(beat("a", true, 100, /*releasing=*/true), t(100));
    EXPECT_EQ(count<act::try_acquire>(hr), 1) << "priority 200 tries at once";
    EXPECT_EQ(count<act::try_acquire>(lr), 0) << "priority 100 waits its rank";
    EXPECT_EQ(lr.next_wakeup, t(200)) << "one better-ranked standby: 100 ms later";
}

Election active_node(ElectionConfig cfg, const std::string& id) {
    Election e(std::move(cfg), id);
    e.step(ev::tick{}, t(0));
    e.step(ev::acquire_result{true, 1, id, 0ms, t(0), "", false}, t(1));
    EXPECT_EQ(e.role(), Role::active);
    return e;
}

/// Feeds one event and answers what a test harness must (renewals succeed, stopped processes
/// exit); returns the reservation of a release, if one was emitted.
std::string feed(Election& e, const af::core::Event& ev, TimePoint now) {
    std::string reserved;
    const Ready r = e.step(ev, now);
    for (const auto& a : r.actions) {
        if (std::holds_alternative<act::renew>(a))
            reserved += feed(e, ev::renew_result{true, e.term(), now}, now);
        if (std::holds_alternative<act::stop_process>(a))
            reserved += feed(e, ev::process_exited{"scheduler", "exited with status 0"}, now);
        if (const auto* rel = std::get_if<act::release>(&a))
            reserved += rel->reserved_for;
    }
    return reserved;
}

TEST(PeerElection, FailbackHandsTheLeaseToAHealthierHigherPriorityNode) {
    ElectionConfig cfg = hb_config(100);
    cfg.failback = true;
    cfg.failback_delay = 1000ms;
    Election e = active_node(cfg, "b");
    std::string reserved;
    long long when = 0;
    for (long long now = 100; now <= 3000 && reserved.empty(); now += 100) {
        reserved = feed(e, beat("a", false, 200), t(now));
        when = now;
    }
    EXPECT_EQ(reserved, "a");
    EXPECT_GE(when, 1100) << "not before the failback delay";
}

TEST(PeerElection, NoFailbackWhenDisabled) {
    Election e = active_node(hb_config(100), "b");
    for (long long now = 100; now <= 2500; now += 100) {
        const Ready r = e.step(beat("a", false, 200), t(now));
        EXPECT_EQ(count<act::stop_process>(r), 0);
        for (const auto& a : r.actions)
            if (std::holds_alternative<act::renew>(a))
                e.step(ev::renew_result{true, 1, t(now)}, t(now));
    }
    EXPECT_EQ(e.role(), Role::active);
}

TEST(PeerElection, SwitchoverToASilentOrUnknownTargetIsRefused) {
    Election e = active_node(hb_config(100), "b");
    const Ready r = e.step(ev::switchover{std::string("c"), "cli:test", 7}, t(10));
    bool refused = false;
    for (const auto& a : r.actions)
        if (const auto* d = std::get_if<act::command_done>(&a))
            refused = d->id == 7 && d->result.rfind("refused", 0) == 0;
    EXPECT_TRUE(refused);
    EXPECT_EQ(count<act::stop_process>(r), 0);
    e.step(beat("c", false), t(20));
    const Ready ok = e.step(ev::switchover{std::string("c"), "cli:test", 8}, t(30));
    EXPECT_EQ(count<act::stop_process>(ok), 1) << "a heard, healthy standby is accepted";
}

}  // namespace
