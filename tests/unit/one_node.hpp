#pragma once

// One election core driven by hand on the fake clock, its renewals answered at once so the lease
// stays held: the fixture of the single-node core tests (pause, restart).
#include <cstdint>
#include <utility>
#include <variant>
#include <vector>

#include "af/core/election.hpp"
#include "fake_time.hpp"

namespace af::test {

/// The actions of type `A` in `r`, in order.
template <class A>
std::vector<A> all(const core::Ready& r) {
    std::vector<A> v;
    for (const auto& a : r.actions)
        if (const A* x = std::get_if<A>(&a))
            v.push_back(*x);
    return v;
}

/// `now` is milliseconds on the fake clock.
struct OneNode {
    core::Election core;
    long long now{0};

    explicit OneNode(core::ElectionConfig c) : core(std::move(c), "node-a") {}

    core::Ready step(const core::Event& e) { return core.step(e, t(now)); }
    /// Wins term `term`.
    core::Ready become_active(std::int64_t term = 1) {
        step(core::ev::tick{});
        core::ev::acquire_result won;
        won.won = true;
        won.term = term;
        won.sent_at = t(now);
        return step(won);
    }
    /// Runs the clock forward in steps of 100 ms, answering renewals; returns every action.
    core::Ready run_for(long long ms) {
        core::Ready out;
        for (const long long until = now + ms; now < until;) {
            now += 100;
            for (const auto& a : step(core::ev::tick{}).actions) {
                out.actions.push_back(a);
                if (const auto* rn = std::get_if<core::act::renew>(&a)) {
                    core::Ready rr = step(core::ev::renew_result{true, rn->term, t(now)});
                    out.actions.insert(out.actions.end(), rr.actions.begin(), rr.actions.end());
                }
            }
        }
        return out;
    }
};

}  // namespace af::test
