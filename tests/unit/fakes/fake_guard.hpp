#pragma once

// The Guard port in memory: what the daemon told its guard. kill_daemon() in the world does
// what the real guard does when the daemon dies while armed: kill the groups, release.
#include <set>

#include "af/ports/guard.hpp"

namespace af::fakes {

class FakeGuard : public ports::Guard {
  public:
    void start() override { started = true; }
    void arm(std::int64_t t, TimePoint d) override {
        armed = true;
        term = t;
        deadline = d;
    }
    void disarm() override { armed = false; }
    void set_groups(std::set<pid_t> g) override { groups = std::move(g); }
    void shutdown() override { shut_down = true; }

    bool started{false};
    bool armed{false};
    bool shut_down{false};
    std::int64_t term{0};
    TimePoint deadline{};
    std::set<pid_t> groups;
};

}  // namespace af::fakes
