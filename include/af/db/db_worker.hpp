#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>

#include "af/core/election_event.hpp"
#include "af/db/renew_lanes.hpp"
#include "af/db/state_sql.hpp"
#include "af/util/boot_clock.hpp"

namespace af::db {

struct WorkerSettings {
    std::string conninfo;
    std::string schema;
    std::string cluster;
    std::string node_id;
    Duration connect_timeout{2000};
    Duration statement_timeout{3000};
    Duration ttl{3000};
    Duration renew_interval{500};  ///< with ttl and fence_margin: the renewal lanes' timeouts
    Duration fence_margin{300};
    std::string hostname;
    std::string version;
    int pid{0};
    int priority{100};
    std::string default_process;  ///< what a terminate command without a target kills
    std::map<std::string, std::string> fence_roles;  ///< node -> database role (fencing)
};

/// Runs every database statement of the daemon on one thread with one connection (libpqxx's
/// rule), so a slow or hung database never stalls the event loop that enforces the deadline.
/// Results come back as election events through `sink`, called on the worker thread.
///
/// Lease statements go before the node row and event inserts; queued duplicates of acquire,
/// renew and publish are coalesced. While the connection is down, lease requests fail at once
/// (the core decides what that means) and events are kept (up to a bound) until it is back.
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
    bool connected() const { return connected_.load(); }
    std::uint64_t statements() const { return statements_.load(); }

    /// Incarnation number given at the latest registration (0 until the first connection).
    std::int64_t incarnation() const;
    /// The other nodes' incarnations as the database had them at our registrations.
    std::map<std::string, std::int64_t> peer_incarnations() const;
    std::uint64_t events_dropped() const;

  private:
    struct Acquire {
        std::int64_t min_term;
    };

    struct Release {
        std::int64_t term;
        std::string reserved_for;
    };
    struct Record {
        std::string kind, detail;
        std::int64_t term;
    };
    using LeaseOp = std::variant<Acquire, Release>;

    void run();
    bool connect();
    void execute(const LeaseOp& op);
    void fail(const LeaseOp& op, const std::string& what);
    void lost(const std::string& what);
    void wake();
    void wait_for_work(Duration max_wait);
    void check_commands();
    void check_pause();  ///< reads the pause row and sends ev::paused (worker thread only)
    bool fence(std::int64_t term);

    WorkerSettings s_;
    Sink sink_;
    struct Impl;
    std::unique_ptr<Impl> impl_;

    mutable std::mutex mu_;
    std::deque<LeaseOp> lease_ops_;
    std::optional<NodeReport> report_;
    std::deque<Record> records_;
    std::deque<std::pair<std::int64_t, std::string>> finished_;
    bool active_{false};
    bool commands_due_{false};
    TimePoint next_command_check_{};
    /// Worker-thread only: set by NOTIFY, and read again at least this often in case one is
    /// missed (the acquire statement refuses while paused, so a late read never lets a
    /// standby take over; it only delays what the holder does).
    static constexpr Duration k_pause_check{2000};
    bool pause_due_{false};
    TimePoint next_pause_check_{};
    std::atomic<bool> connected_{false};
    std::atomic<std::uint64_t> statements_{0};
    std::uint64_t dropped_{0};
    std::int64_t incarnation_{0};
    std::map<std::string, std::int64_t> peer_incarnations_;
    bool stopping_{false};
    TimePoint drain_until_{TimePoint::max()};
    int wake_fd_{-1};
    std::thread thread_;
    std::unique_ptr<RenewLanes> renewals_;
};

}  // namespace af::db
