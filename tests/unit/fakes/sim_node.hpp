#pragma once

// One node of a daemon-level test: the real Daemon on the fakes, on a shared simulated clock,
// lease row and World.
#include <memory>
#include <string>
#include <vector>

#include "af/config/config.hpp"
#include "af/daemon/daemon.hpp"
#include "fake_commands.hpp"
#include "fake_guard.hpp"
#include "fake_lease_store.hpp"
#include "fake_processes.hpp"
#include "sim_clock.hpp"

namespace af::fakes {

class SimNode {
  public:
    SimNode(SimClock& clock, FakeDb& db, World& world, config::Config cfg)
        : cfg_(std::move(cfg)),
          clock_(clock),
          store(db, cfg_.node_id, cfg_.lease.ttl),
          commands(clock),
          processes(clock, world, cfg_.node_id, cfg_.processes) {
        store.trace = &world.trace;
    }

    void start(daemon::Extras x = {}) {
        x.notify = [this](const std::string& s) { notes.push_back(s); };
        if (x.loop_interval.count() == 0)
            x.loop_interval = Duration{1000};
        daemon = std::make_unique<daemon::Daemon>(
            cfg_, daemon::Ports{clock_, store, commands, processes, guard}, std::move(x));
        daemon->start();
    }
    /// kill -9 of the daemon: it is gone at once; its guard sees the pipe close and, if armed,
    /// kills the process groups and releases the lease.
    void kill_daemon(FakeDb& db) {
        store.stop(Duration{0});
        commands.listen(nullptr);
        processes.listen(nullptr);
        daemon.reset();
        if (guard.armed) {
            processes.kill_all_now();
            if (db.holder == cfg_.node_id && db.term == guard.term)
                db.holder.clear();
        }
    }

    core::Role role() const { return daemon->status().role; }
    bool active() const { return daemon && role() == core::Role::active; }
    const std::string& id() const { return cfg_.node_id; }
    bool noted(const std::string& prefix) const {
        for (const auto& n : notes)
            if (n.rfind(prefix, 0) == 0)
                return true;
        return false;
    }

  private:
    config::Config cfg_;
    SimClock& clock_;

  public:
    FakeLeaseStore store;
    FakeCommands commands;
    FakeProcesses processes;
    FakeGuard guard;
    std::vector<std::string> notes;  ///< sd_notify lines
    std::unique_ptr<daemon::Daemon> daemon;
};

}  // namespace af::fakes
