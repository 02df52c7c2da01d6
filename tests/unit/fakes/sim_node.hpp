#pragma once

// One node of a daemon-level test: the real Daemon on the fakes, on a shared simulated clock,
// lease row, World and network. The optional parts (heartbeats, hooks, the takeover) are there
// when the node's configuration has them, as run_daemon wires them; metrics always.
#include <memory>
#include <string>
#include <vector>

#include "af/config/config.hpp"
#include "af/daemon/daemon.hpp"
#include "fake_commands.hpp"
#include "fake_guard.hpp"
#include "fake_lease_store.hpp"
#include "fake_parts.hpp"
#include "fake_processes.hpp"
#include "sim_clock.hpp"

namespace af::fakes {

class SimNode {
  public:
    SimNode(SimClock& clock, FakeDb& db, World& world, SimNet& net, config::Config cfg)
        : cfg_(std::move(cfg)),
          clock_(clock),
          store(db, cfg_.node_id, cfg_.lease.ttl),
          commands(clock),
          processes(clock, world, cfg_.node_id, cfg_.processes) {
        store.trace = &world.trace;
        if (cfg_.heartbeat)
            heartbeats = std::make_unique<FakeHeartbeats>(
                net, cfg_.node_id, cfg_.heartbeat->interval, [this] { return heartbeat(); },
                [this](core::Event e) {
                    if (daemon)
                        daemon->feed(std::move(e));
                });
        if (cfg_.hooks.on_role_change)
            on_role_change = std::make_unique<FakeHook>(clock, cfg_.hooks.on_role_change->timeout);
        if (cfg_.hooks.pre_promote)
            pre_promote = std::make_unique<FakeHook>(clock, cfg_.hooks.pre_promote->timeout);
        if (cfg_.airflow && cfg_.airflow->takeover) {
            takeover = std::make_unique<FakeTakeover>(clock);
            takeover->set_sink([this](core::Event e) {
                if (daemon)
                    daemon->feed(std::move(e));
            });
        }
    }

    void start(daemon::Extras x = {}) {
        x.heartbeat = heartbeats.get();
        if (!x.metrics)  // a test may pass the real Metrics
            x.metrics = &metrics;
        x.on_role_change = on_role_change.get();
        x.pre_promote = pre_promote.get();
        x.takeover = takeover.get();
        x.notify = [this](const std::string& s) { notes.push_back(s); };
        if (x.loop_interval.count() == 0)
            x.loop_interval = Duration{1000};
        daemon = std::make_unique<daemon::Daemon>(
            cfg_, daemon::Ports{clock_, store, commands, processes, guard}, std::move(x));
        if (heartbeats)
            heartbeats->start();
        daemon->start();
    }
    /// kill -9 of the daemon: it is gone at once; its guard sees the pipe close and, if armed,
    /// kills the process groups and releases the lease.
    void kill_daemon(FakeDb& db) {
        store.stop(Duration{0});
        commands.listen(nullptr);
        processes.listen(nullptr);
        daemon.reset();
        if (heartbeats)
            heartbeats->stop();
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
    /// What the real service puts in its datagram (status_outputs.cpp), as the peer reads it.
    core::ev::peer_heartbeat heartbeat() const {
        core::ev::peer_heartbeat hb;
        if (!daemon)
            return hb;
        const auto& v = daemon->status();
        const auto role = v.wire_role();
        hb.active = role == net::WireRole::active;
        hb.standby = role == net::WireRole::standby;
        hb.term = v.term;
        hb.priority = cfg_.priority;
        hb.healthy = v.fit;
        return hb;
    }

    config::Config cfg_;
    SimClock& clock_;

  public:
    FakeLeaseStore store;
    FakeCommands commands;
    FakeProcesses processes;
    FakeGuard guard;
    FakeMetrics metrics;
    std::unique_ptr<FakeHeartbeats> heartbeats;  ///< with a heartbeat section
    std::unique_ptr<FakeHook> on_role_change;    ///< with hooks.on_role_change
    std::unique_ptr<FakeHook> pre_promote;       ///< with hooks.pre_promote
    std::unique_ptr<FakeTakeover> takeover;      ///< with airflow.takeover
    std::vector<std::string> notes;              ///< sd_notify lines
    std::unique_ptr<daemon::Daemon> daemon;
};

}  // namespace af::fakes
