#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "af/config/config.hpp"
#include "af/health/health_check.hpp"
#include "af/proc/spawn.hpp"

namespace af::proc {

/// The descriptor number at which a warm process finds its end of the go channel (a Unix
/// stream socket); also named in its environment as AIRFLOW_FAILOVER_WARM_FD.
inline constexpr int k_warm_fd = 3;
/// The longest line a warm copy may write on its channel: "ready" is five bytes, the rest is
/// chatter for the log. A copy that writes more without a newline is killed, so it cannot grow
/// the daemon's buffer.
inline constexpr std::size_t k_warm_max_line = 4096;

/// The daemon's end of a warm copy's go channel (docs/warm-standby.md).
class WarmChannel {
  public:
    /// One read: a line without its newline; nullopt at EOF or an error; `overflow` when the
    /// copy wrote k_warm_max_line bytes without a newline.
    struct Read {
        std::optional<std::string> line;
        bool overflow{false};
    };
    using OnRead = std::function<void(const Read&)>;
    virtual ~WarmChannel() = default;
    /// Reads line after line until EOF, an error or close(); each on the event loop, never
    /// inside this call. After close() nothing more is delivered.
    virtual void read(OnRead on_read) = 0;
    /// Writes `msg` whole; returns why it could not, empty when it was sent.
    virtual std::string send(const std::string& msg) = 0;
    /// Our end closed: the copy reads EOF.
    virtual void close() = 0;
};

/// What a ManagedProcess asks of the operating system. Production (make_process_os) forks,
/// signals and reads /proc; the unit tests fake it (tests/unit/fakes/fake_process_os.hpp), so a
/// process's life runs on simulated time.
class ProcessOs {
  public:
    virtual ~ProcessOs() = default;
    /// Starts `spec` in a session of its own; throws naming the cause.
    virtual pid_t spawn(const SpawnSpec& spec) = 0;
    /// Starts a warm copy with its channel at k_warm_fd (`spec.pass_fd` is set here); throws.
    virtual std::pair<pid_t, std::unique_ptr<WarmChannel>> spawn_warm(SpawnSpec spec) = 0;
    /// kill(-pgid, sig): a graceful stop asks the process group.
    virtual void signal_group(pid_t pgid, int sig) = 0;
    /// `sig` to every member of the session (session.hpp).
    virtual void signal_session(pid_t sid, int sig) = 0;
    virtual bool session_alive(pid_t sid) = 0;
    /// `pid` exists and is no zombie.
    virtual bool running(pid_t pid) = 0;
    /// A watched path's mtime; {-1, -1} when it cannot be read (its appearing is a change too).
    virtual timespec mtime(const std::string& path) = 0;
    /// The health check `c` describes, run in `context` (how the process itself is started).
    virtual std::unique_ptr<health::HealthCheck> health_check(const config::HealthConfig& c,
                                                              const SpawnSpec& context) = 0;
    /// The wall clock, for the airflow-db check's "started after" (the boot clock is the
    /// Clock port's).
    virtual std::chrono::system_clock::time_point wall_now() = 0;
};

/// The operating system itself; warm channels and health checks run on `io`.
std::unique_ptr<ProcessOs> make_process_os(boost::asio::io_context& io);

}  // namespace af::proc
