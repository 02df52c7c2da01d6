#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "af/config/config.hpp"
#include "af/core/election.hpp"
#include "af/daemon/status_view.hpp"
#include "af/ports/clock.hpp"
#include "af/ports/command_source.hpp"
#include "af/ports/guard.hpp"
#include "af/ports/lease_store.hpp"
#include "af/ports/optional_parts.hpp"
#include "af/ports/process_control.hpp"

namespace af::daemon {

/// The five ports the daemon talks through (include/af/ports): production adapters over
/// PostgreSQL, fork/exec and the boot clock (src/adapters, wired by run_daemon), in-memory
/// fakes in the daemon-level tests (tests/unit/fakes).
struct Ports {
    ports::Clock& clock;
    ports::LeaseStore& lease;
    ports::CommandSource& commands;
    ports::ProcessControl& processes;
    ports::Guard& guard;
};

/// Optional parts, each off when null: heartbeats, metrics, hooks, the Airflow takeover, the
/// systemd notifications and the loop check. The parts are ports too (optional_parts.hpp):
/// run_daemon wires the real ones, the daemon-level tests fakes (tests/unit/fakes).
struct Extras {
    ports::Heartbeats* heartbeat{nullptr};
    ports::Metrics* metrics{nullptr};
    ports::Hook* on_role_change{nullptr};
    ports::Hook* pre_promote{nullptr};
    ports::Takeover* takeover{nullptr};
    std::function<void(const std::string&)> notify;  ///< sd_notify(3) state lines
    Duration loop_interval{0};                       ///< the loop check's period (0: no check)
    bool watchdog{false};           ///< ping WATCHDOG=1 after each loop check on time
    std::function<void()> on_done;  ///< the exit: close what the runner owns (signals, HTTP)
};

/// The imperative shell around the election core, a thin executor of its Ready: events from
/// the ports go into Election::step with the clock's time, and the actions that come out are
/// carried out on the ports, in order.
///
///   LeaseStore, CommandSource,  ─┐                       ┌─> LeaseStore, CommandSource
///   ProcessControl, timers,      ├─> Election::step ─────┼─> ProcessControl, Guard
///   signals (via the runner)    ─┘   (pure)              └─> hooks, takeover, heartbeat
class Daemon {
  public:
    Daemon(config::Config cfg, Ports ports, Extras extras = {});
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    /// Starts the guard and the store, then steps the core for the first time.
    void start();
    /// One event from a port: one step of the core, its actions carried out.
    void feed(const core::Event& e);
    /// SIGTERM or SIGINT: hand over and exit.
    void stop_requested(const std::string& signal_name);
    /// SIGCONT: resumed after a stop; the core checks its deadline before anything else.
    void resumed();
    /// SIGHUP: applies what is safe of the configuration `load` returns (it may throw).
    void reload(const std::function<config::Config()>& load);

    bool done() const { return done_; }
    int exit_code() const { return exit_code_; }
    const StatusView& status() const { return view_; }
    const config::Config& config() const { return cfg_; }

  private:
    void execute(const core::Action& a);
    void execute_process(const core::Action& a);  // daemon_processes.cpp
    void start_process(const std::string& name, std::int64_t term, bool warm);
    void execute_gate(const core::Action& a);  // daemon_gates.cpp
    void hook_done(const std::string& hook, const std::string& action, std::int64_t term,
                   const ports::HookOutcome& o);
    void observe(const core::Event& e);  // daemon_observe.cpp
    void refresh_view();
    void announce_release();
    void notify_status(const core::Event& e);
    void arm_wakeup(TimePoint at);
    void check_loop(TimePoint due);
    void publish();
    void schedule_publish();
    void sync_guard_groups();
    void finish(int code);
    void notify(const std::string& state) const {
        if (x_.notify)
            x_.notify(state);
    }

    config::Config cfg_;
    Ports p_;
    Extras x_;
    core::Election core_;
    std::unique_ptr<ports::Timer> wakeup_;   ///< the core's next_wakeup
    std::unique_ptr<ports::Timer> publish_;  ///< the node row, every status_interval
    std::unique_ptr<ports::Timer> loop_;     ///< the loop check (watchdog, /healthz)
    StatusView view_;
    std::optional<SeenActive> seen_active_;
    TimePoint healthy_until_{};
    core::Role last_role_{core::Role::standby};
    bool ready_sent_{false};
    bool announce_release_{false};  ///< this step's event is our release: tell the peers
    bool stopping_sent_{false};
    std::string status_sent_;
    std::map<std::string, std::int64_t> started_in_term_;  ///< process -> term
    int exit_code_{0};
    bool done_{false};
};

}  // namespace af::daemon
