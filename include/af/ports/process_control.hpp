#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "af/config/config.hpp"
#include "af/ports/event_sink.hpp"

namespace af::ports {

/// What the core may do to a managed process's session.
enum class ProcSignal {
    stop,    ///< SIGTERM to the process group: a graceful stop
    kill,    ///< SIGKILL to the session
    freeze,  ///< SIGSTOP to the session: it keeps its state, does nothing
    thaw,    ///< SIGCONT to the session
};
inline const char* to_string(ProcSignal s) {
    switch (s) {
        case ProcSignal::stop:
            return "SIGTERM";
        case ProcSignal::kill:
            return "SIGKILL";
        case ProcSignal::freeze:
            return "SIGSTOP";
        case ProcSignal::thaw:
            return "SIGCONT";
    }
    return "?";
}

/// A managed process as the node row shows it (serialised in status_outputs.cpp).
struct ProcessStatus {
    std::string name;
    pid_t pid{0};  ///< also the process group; 0 when not running
    bool running{false};
    int restarts{0};
    struct Health {
        std::string type;   ///< airflow-db, http, command
        std::string state;  ///< starting, healthy, unhealthy
        std::string last;   ///< the last check's words
        bool operator==(const Health&) const = default;
    };
    std::optional<Health> health;  ///< when it has a health check
    std::int64_t term{0};
    bool operator==(const ProcessStatus&) const = default;
};

/// A warm copy as the node row shows it.
struct WarmStatus {
    std::string name;
    pid_t pid{0};
    bool ready{false};
    bool stopping{false};  ///< its channel is closed: it is on its way out
    bool operator==(const WarmStatus&) const = default;
};

/// The managed processes and their warm copies: start, signal, report. It decides nothing.
/// Through the sink: process_exited (once the whole group is gone, also for a failed start),
/// process_unhealthy, warm_ready, warm_exited, warm_stale.
class ProcessControl {
  public:
    virtual ~ProcessControl() = default;
    virtual void listen(EventSink sink) = 0;

    virtual void start(const std::string& name, std::int64_t term) = 0;
    /// Sends go with `term` to the ready warm copy of `name`, which becomes the running process;
    /// false when there is no warm copy able to take it (the caller then starts it cold).
    virtual bool go_warm(const std::string& name, std::int64_t term) = 0;
    virtual void signal(const std::string& name, ProcSignal s) = 0;
    virtual void warm_start(const std::string& name) = 0;
    virtual void warm_stop(const std::string& name) = 0;
    /// The code every warm copy loaded may be stale (SIGHUP): each is reported warm_stale.
    virtual void warm_all_stale(const std::string& why) = 0;
    /// New health-check limits for a running check; false if `h` changes more than the limits.
    virtual bool set_health_limits(const std::string& name, const config::HealthConfig& h) = 0;
    /// The daemon exits: warm copies are ended (managed processes are already stopped).
    virtual void shutdown() = 0;

    /// Process groups (= sessions) of the running processes: what the guard must kill.
    virtual std::vector<pid_t> groups() const = 0;
    /// Some managed process is not running (crashed, restarting, not started).
    virtual bool any_down() const = 0;
    virtual std::vector<ProcessStatus> describe() const = 0;
    /// The warm copies, for the node row (nullopt when no process has warm standby).
    virtual std::optional<std::vector<WarmStatus>> describe_warm() const = 0;
};

}  // namespace af::ports
