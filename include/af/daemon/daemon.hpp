#pragma once

#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <memory>
#include <string>

#include "af/config/config.hpp"
#include "af/core/election.hpp"
#include "af/db/db_worker.hpp"
#include "af/guard/guard_link.hpp"
#include "af/net/heartbeat_service.hpp"
#include "af/proc/supervisor.hpp"
#include "af/util/boot_clock.hpp"

namespace af::daemon {

/// The imperative shell around the election core: one io_context, one timer for the core's
/// next wake-up, signals, the database worker, the supervisor and the guard.
///
///   signals ─┐           ┌─> Supervisor (fork/exec, SIGTERM/SIGKILL to groups, reap)
///   timer ───┼─> Election::step(event, now) ─> actions ─┼─> DbWorker (lease SQL, events)
///   DbWorker ┘   (pure)                                 └─> GuardLink (deadline, groups)
class Daemon {
  public:
    Daemon(config::Config cfg, std::string config_path);
    ~Daemon();
    /// Runs until stopped; returns the process exit code.
    int run();

  private:
    using Timer = boost::asio::basic_waitable_timer<boot_clock>;

    void feed(const core::Event& e);
    void execute(const core::Action& a);
    void await_signal();
    void reap();
    void sync_guard_groups();
    void reload();
    void arm_timer(TimePoint at);
    void publish();
    void schedule_publish();
    net::HeartbeatService::Snapshot heartbeat_snapshot() const;

    config::Config cfg_;
    std::string config_path_;
    boost::asio::io_context io_;
    boost::asio::signal_set signals_;
    Timer timer_;
    Timer publish_timer_;
    core::Election core_;
    std::unique_ptr<db::DbWorker> db_;
    proc::Supervisor supervisor_;
    guard::GuardLink guard_;
    std::unique_ptr<net::HeartbeatService> heartbeat_;
    core::Role last_role_{core::Role::standby};
    int exit_code_{0};
    bool done_{false};
};

}  // namespace af::daemon
