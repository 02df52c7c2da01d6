#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "af/config/config.hpp"
#include "af/ports/process_control.hpp"
#include "af/proc/child_env.hpp"

namespace af::proc {

/// The descriptor number at which a warm process finds its end of the go channel (a Unix
/// stream socket); also named in its environment as AIRFLOW_FAILOVER_WARM_FD.
inline constexpr int k_warm_fd = 3;
/// The longest line a warm copy may write on its channel: "ready" is five bytes, the rest is
/// chatter for the log. A copy that writes more without a newline is killed, so it cannot grow
/// the daemon's buffer.
inline constexpr std::size_t k_warm_max_line = 4096;

/// The shell side of the warm standby protocol (docs/warm-standby.md). Starts the warm copies
/// the election core asks for, reports their "ready" and their end, sends go, and notices when
/// the code they loaded may be stale (a watched path changed). It decides nothing.
///
/// The protocol, on one socketpair inherited at fd 3:
///   warm process -> daemon:  "ready\n" once its imports are done (other lines are logged)
///   daemon -> warm process:  "go <term>\n" to start working in that term
///   EOF before go (the daemon closed it, or died): exit without doing anything
class WarmPool {
  public:
    using ReadyHandler = std::function<void(const std::string& name)>;
    using ExitHandler = std::function<void(const std::string& name, const std::string& how)>;
    using StaleHandler = std::function<void(const std::string& name, const std::string& why)>;

    WarmPool(boost::asio::io_context& io, const std::vector<config::ProcessConfig>& procs,
             ChildEnv base_env, ReadyHandler on_ready, ExitHandler on_exit, StaleHandler on_stale);
    ~WarmPool();

    /// Starts a warm copy of `name`; a failure is reported through the exit handler.
    void start(const std::string& name);
    /// Sends go with `term` to the warm `name` and hands it over: returns its pid (from now on
    /// the caller's managed process), or 0 when there is no warm copy able to take it.
    pid_t go(const std::string& name, std::int64_t term);
    /// EOF on its channel, then SIGKILL to its session after a grace period.
    void stop(const std::string& name);
    /// SIGHUP: every live warm copy is reported stale.
    void all_stale(const std::string& why);
    /// Kills every warm copy now (the daemon exits).
    void shutdown();

    /// Offer a reaped child; returns false if it is not a warm copy.
    bool on_reaped(pid_t pid, int status);
    std::vector<ports::WarmStatus> describe() const;

  private:
    struct Warm {
        pid_t pid{0};
        std::unique_ptr<boost::asio::posix::stream_descriptor> channel;
        std::shared_ptr<boost::asio::streambuf> buf;
        std::map<std::string, timespec> mtimes;  ///< of the watched paths at the start
        bool ready{false};
        bool stale_reported{false};
        std::uint64_t generation{0};
        std::string killed_for;  ///< why the daemon killed it, told with its exit
    };
    void kill_copy(Warm& w, const std::string& name, std::string why);
    void read_line(const std::string& name, std::uint64_t gen);
    void check_paths();
    void schedule_watch();
    void close_channel(Warm& w);

    boost::asio::io_context& io_;
    std::map<std::string, config::ProcessConfig> cfgs_;
    std::map<std::string, Warm> warm_;
    ChildEnv base_env_;
    ReadyHandler on_ready_;
    ExitHandler on_exit_;
    StaleHandler on_stale_;
    boost::asio::steady_timer watch_timer_;
    std::uint64_t next_generation_{0};
};

}  // namespace af::proc
