#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "af/core/election_config.hpp"
#include "af/core/election_event.hpp"
#include "af/db/db_jobs.hpp"
#include "af/db/node_report.hpp"
#include "af/db/renew_lanes.hpp"
#include "af/db/scope.hpp"
#include "af/util/boot_clock.hpp"

namespace af::db {

struct WorkerSettings {
    std::string conninfo;
    Scope scope;
    std::string node_id;
    Duration connect_timeout{};
    core::LeaseTimings lease;  ///< the lease's length; with it, every timeout (renew_timing.hpp)
    /// Written into the node row: past this age the row counts as stale (migration 8).
    Duration stale_after{};
    std::string hostname;
    std::string airflow_hostname;  ///< what Airflow records for this node's jobs ("" if none)
    std::string version;
    int pid{0};
    int priority{100};
    std::string default_process;  ///< what a terminate command without a target kills
    std::map<std::string, std::string> fence_roles;  ///< node -> database role (fencing)
};

/// Runs the daemon's database statements off the event loop, so a slow or hung database never
/// stalls the loop that enforces the deadline. Two kinds of connection, each a ConnectionWorker
/// (include/af/db/connection_worker.hpp: one thread, libpqxx's rule, fed by its own job queue,
/// reconnecting with backoff):
///   - the main connection: acquire, release, the node row, command results, the pause and
///     commands polls, the event log, in the priorities of db_jobs.hpp;
///   - the renewal lanes (RenewLanes): three connections that only renew.
/// Results come back as election events through `sink`, called on the worker threads.
///
/// Queued duplicates of acquire and publish are merged. While the main connection is down,
/// lease requests fail at once (the core decides what that means) and events are kept (up to a
/// bound) until it is back.
class DbWorker {
  public:
    using Sink = std::function<void(core::Event)>;
    DbWorker(WorkerSettings s, Sink sink);
    ~DbWorker();
    DbWorker(const DbWorker&) = delete;
    DbWorker& operator=(const DbWorker&) = delete;

    void start();
    /// Finishes queued work for at most `drain` then stops the thread.
    void stop(Duration drain = Duration{1000});

    void acquire(std::int64_t min_term);
    void renew(std::int64_t term);
    void release(std::int64_t term, std::string reserved_for);
    void publish(NodeReport r);
    void record(std::string kind, std::string detail, std::int64_t term);
    void finish_command(std::int64_t id, std::string result);
    /// While active, the worker looks for operator commands (on NOTIFY, and every 2 s).
    void set_active(bool active);
    bool connected() const;
    std::uint64_t statements() const { return statements_.load(); }

    /// Incarnation number given at the latest registration (0 until the first connection).
    std::int64_t incarnation() const;
    /// The other nodes' incarnations as the database had them at our registrations.
    std::map<std::string, std::int64_t> peer_incarnations() const;
    std::uint64_t events_dropped() const;

  private:
    struct Impl;  ///< the connection worker and the statements (db_worker_impl.hpp)

    /// Runs one job on the worker thread (the connection opened first, if it can be).
    void handle(job::Inbox::Job& j);
    /// Registers the node and listens, on a connection just opened (worker thread).
    void opened();
    /// A job that found no connection: fail it, keep it, or drop it, by its kind.
    void unavailable(job::Inbox::Job& j, const std::string& what);
    void execute(job::Acquire& j);
    void execute(job::Release& j);
    void execute(job::Publish& j);
    void execute(job::FinishCommand& j);
    void execute(job::CheckPause& j);
    void execute(job::CheckCommands& j);
    void execute(job::Record& j);
    bool fence(std::int64_t term);

    WorkerSettings s_;
    Sink sink_;
    std::unique_ptr<Impl> impl_;
    job::Inbox& inbox_;  ///< the main connection's queue (in impl_)
    /// Written by the loop thread (set_active), read by the worker before it looks for commands.
    std::atomic<bool> active_{false};
    std::atomic<std::uint64_t> statements_{0};
    mutable std::mutex mu_;  ///< guards the two below (written at each registration)
    std::int64_t incarnation_{0};
    std::map<std::string, std::int64_t> peer_incarnations_;
    std::mutex stop_mu_;  ///< stop() may be called twice (by the daemon, then the destructor)
    std::unique_ptr<RenewLanes> renewals_;
};

}  // namespace af::db
