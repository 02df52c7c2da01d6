#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "af/config/config.hpp"
#include "af/ports/process_control.hpp"
#include "af/proc/child_env.hpp"

namespace af::proc {

/// Starts, signals and reaps the managed processes. It decides nothing: the election core says
/// when to start, stop or kill; this reports when a process (with its whole group) is gone.
class Supervisor {
  public:
    /// Called once a process's group leader was reaped and no member of its group is left.
    using ExitHandler = std::function<void(const std::string& name, const std::string& how)>;
    /// Called when a process failed its health check `failure_threshold` times in a row.
    using UnhealthyHandler = std::function<void(const std::string& name, const std::string& why)>;

    Supervisor(boost::asio::io_context& io, std::vector<config::ProcessConfig> procs,
               ChildEnv base_env, ExitHandler on_exit, UnhealthyHandler on_unhealthy = {});
    ~Supervisor();

    /// Starts `name`; a start failure is reported through the exit handler, as a crash.
    void start(const std::string& name, std::int64_t term);
    /// Takes over an already running process of `name` (a warm standby that was sent go).
    void adopt(const std::string& name, pid_t pid, std::int64_t term);
    void signal(const std::string& name, int sig);

    /// Offer a reaped child; returns false if it is not one of ours.
    bool on_reaped(pid_t pid, int status);

    /// Applies new health-check limits (failure_threshold, interval_ms, start_period_ms) to a
    /// running check; false when `h` differs in anything else (those need a restart).
    bool set_health_limits(const std::string& name, const config::HealthConfig& h);

    std::vector<pid_t> groups() const;
    std::vector<ports::ProcessStatus> describe() const;
    /// Some managed process is not running (crashed, restarting, not started).
    bool any_down() const;

  private:
    struct Health;
    struct Child {
        config::ProcessConfig cfg;
        std::shared_ptr<Health> health;
        pid_t pid{0};  ///< also the pgid; 0 when not running
        bool leader_reaped{false};
        std::string how;
        int restarts{-1};
        std::int64_t term{0};
    };
    void running(const std::string& name, pid_t pid, std::int64_t term);
    void await_group_empty(const std::string& name, int tries);
    void schedule_check(const std::string& name);

    boost::asio::io_context& io_;
    std::map<std::string, Child> children_;
    ChildEnv base_env_;  ///< the daemon's identity, for every child
    ExitHandler on_exit_;
    UnhealthyHandler on_unhealthy_;
};

}  // namespace af::proc
