#pragma once

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <pqxx/connection>
#include <string>
#include <thread>
#include <utility>

#include "af/db/connection.hpp"
#include "af/db/lease_sql.hpp"
#include "af/db/mailbox.hpp"
#include "af/db/reconnect_backoff.hpp"

namespace af::db {

/// How a ConnectionWorker opens its connection and what it does between jobs.
struct ConnectionSettings {
    std::string conninfo;
    Duration connect_timeout{};
    Duration statement_timeout{};
    TcpTuning tcp{};
    /// The main connection: while idle it watches its socket (NOTIFY runs the listener) and,
    /// without a connection, tries to open one every 200 ms (within the backoff); each change of
    /// state is logged. Off (a renewal lane): the connection opens only when a job asks for it
    /// (connect()), so a standby holds none, and nothing is logged (the sink hears of failures).
    bool main{false};
};

/// One database connection owned by one thread (libpqxx's rule), fed by its own Mailbox. The
/// worker owns the thread, the queue, the connection and its ReconnectBackoff, and stopping with
/// a drain; the owner supplies what a job does (`run`) and, for the main connection, what to do
/// once a connection opens (`opened`: register, listen) and before it is dropped (`closing`).
/// Everything but inbox(), start(), stop(), join() and connected() is for the worker thread
/// (the callbacks run there). It brings in libpqxx: the daemon reaches it only through
/// db_worker.hpp, which keeps it behind a pointer (src/db/runtime/db_worker_impl.hpp).
template <class... Jobs>
class ConnectionWorker {
  public:
    using Inbox = Mailbox<Jobs...>;
    using Job = typename Inbox::Job;
    /// Without a connection, the main connection looks again this often (connect() keeps the
    /// backoff, so a down database is still asked at most as often as it allows).
    static constexpr Duration k_retry{200};
    struct Calls {
        std::function<void(Job&)> run;
        std::function<void(pqxx::connection&)> opened{};  ///< may throw: the open failed
        std::function<void()> closing{};
    };

    ConnectionWorker(ConnectionSettings s, Calls calls)
        : s_(std::move(s)), calls_(std::move(calls)) {}
    ~ConnectionWorker() {
        stop(TimePoint::min());
        join();
    }
    ConnectionWorker(const ConnectionWorker&) = delete;
    ConnectionWorker& operator=(const ConnectionWorker&) = delete;

    Inbox& inbox() { return inbox_; }
    const Inbox& inbox() const { return inbox_; }
    void start() {
        thread_ = std::thread([this] { loop(); });
    }
    /// Finishes the jobs queued before `deadline` (polls excepted), then the thread ends.
    void stop(TimePoint deadline) { inbox_.stop(deadline); }
    void join() {
        if (thread_.joinable())
            thread_.join();
    }
    bool connected() const { return connected_.load(); }

    /// The open connection, or none.
    pqxx::connection* conn() { return conn_.get(); }
    /// Opens the connection unless it is open or the backoff says not yet; false (with error())
    /// when there is none.
    bool connect() {
        if (conn_)
            return true;
        if (!backoff_.due(boot_clock::now())) {
            error_ = "database unavailable (connection backing off)";
            return false;
        }
        try {
            conn_ = open_connection(s_.conninfo, s_.connect_timeout, s_.statement_timeout, s_.tcp);
            durable_lease_session(*conn_);
            if (calls_.opened)
                calls_.opened(*conn_);
            connected_ = true;
            backoff_.opened();
            if (s_.main && (reported_down_ || !was_connected_))
                spdlog::info("database connection {}", was_connected_ ? "restored" : "open");
            reported_down_ = false;
            was_connected_ = true;
            return true;
        } catch (const std::exception& e) {
            lost(e.what());
            return false;
        }
    }
    /// Drops the connection after a failure; the next open waits for the backoff.
    void lost(const std::string& what) {
        drop();
        error_ = what;
        backoff_.failed(boot_clock::now());
        if (s_.main && !reported_down_) {
            // Logged once per change of state, not once per try.
            spdlog::warn("database connection lost: {}; retrying with backoff", what);
            reported_down_ = true;
        }
    }
    /// Drops the connection (a statement left it in doubt) without delaying the next open.
    void drop() {
        connected_ = false;
        if (calls_.closing)
            calls_.closing();
        conn_.reset();
    }
    const std::string& error() const { return error_; }

  private:
    void loop() {
        for (;;) {
            auto next = inbox_.next(boot_clock::now());
            if (next.stop)
                return;
            if (next.job)
                calls_.run(*next.job);
            else if (!s_.main)
                inbox_.wait(next.until);
            else
                idle(next.until);
        }
    }
    /// Nothing due: sleep until the next poll, new work, or NOTIFY on the connection; without a
    /// connection, try again after k_retry.
    void idle(TimePoint until) {
        const TimePoint retry = boot_clock::now() + k_retry;
        const bool notified =
            inbox_.wait(conn_ ? until : std::min(until, retry), conn_ ? conn_->sock() : -1);
        if (notified) {
            try {
                conn_->get_notifs();  // runs the owner's notification receivers
            } catch (const std::exception& e) {
                lost(e.what());
            }
        }
        if (!conn_)
            connect();
    }

    const ConnectionSettings s_;
    const Calls calls_;
    Inbox inbox_;
    std::atomic<bool> connected_{false};
    // The worker thread only:
    std::unique_ptr<pqxx::connection> conn_;
    ReconnectBackoff backoff_;
    bool was_connected_{false};
    bool reported_down_{false};
    std::string error_;
    std::thread thread_;
};

}  // namespace af::db
