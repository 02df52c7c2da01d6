#pragma once

// The daemon's optional parts as ports (daemon::Extras): heartbeats, hooks, the Airflow
// takeover and metrics. Production implements them in src/net, src/hooks, src/airflow and
// src/metrics; the daemon-level tests fake them (tests/unit/fakes/fake_parts.hpp).
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "af/proc/child_env.hpp"
#include "af/util/boot_clock.hpp"

namespace af::ports {

/// Peer heartbeats. Accepted heartbeats reach the daemon as ev::peer_heartbeat.
class Heartbeats {
  public:
    virtual ~Heartbeats() = default;
    /// Sends a datagram to every peer now, with extra flags (the release announcement).
    virtual void send_now(std::uint8_t extra_flags) = 0;
    virtual void stop() = 0;
    /// For the node row.
    virtual nlohmann::json peers_view() const = 0;
    virtual nlohmann::json counters() const = 0;
};

/// How one run of a hook ended.
struct HookOutcome {
    enum class Kind { ok, failed, timed_out, not_started, dropped };
    Kind kind{Kind::ok};
    std::string detail;  ///< "exited with status 0", "killed after the 5000 ms timeout", ...
    bool ok() const { return kind == Kind::ok; }
};

/// One configured hook: runs one at a time, in order, each bounded by its timeout; every
/// enqueued run's Done is called exactly once, on the event loop, never inside enqueue().
class Hook {
  public:
    using Done = std::function<void(const HookOutcome&)>;
    virtual ~Hook() = default;
    virtual void enqueue(proc::EnvPolicy env, Done done) = 0;
    /// The daemon's exit: runs what is queued, blocking, for at most `budget`.
    virtual void drain(Duration budget) = 0;
};

/// The Airflow takeover (act::take_over): every request is answered by exactly one
/// ev::takeover_result, posted to the event loop.
class Takeover {
  public:
    virtual ~Takeover() = default;
    virtual void take_over(std::int64_t term, std::string previous_node) = 0;
    /// Cancel `term`'s statement; its ev::takeover_result still follows.
    virtual void cancel(std::int64_t term) = 0;
    virtual void stop() = 0;
};

/// The counts the daemon reports as things happen (metrics::Metrics).
class Metrics {
  public:
    virtual ~Metrics() = default;
    virtual void observe_renew_latency(Duration d) = 0;
    virtual void database_error(const std::string& op) = 0;
    virtual void event(const std::string& kind) = 0;
    virtual void term_won(const std::string& previous_holder, bool after_switchover) = 0;
    virtual void process_started(const std::string& name, bool restart) = 0;
    virtual void health_check_failed(const std::string& name) = 0;
    virtual void hook_run(const std::string& hook, const std::string& outcome) = 0;
};

}  // namespace af::ports
