#include "af/db/db_worker.hpp"

#include <spdlog/spdlog.h>

#include <pqxx/except>

#include "af/db/connection.hpp"
#include "af/db/migrations.hpp"
#include "db_worker_impl.hpp"

namespace af::db {

DbWorker::DbWorker(WorkerSettings s, Sink sink)
    : s_(std::move(s)),
      sink_(std::move(sink)),
      impl_(std::make_unique<Impl>(s_)),
      renewals_(std::make_unique<RenewLanes>(
          RenewLanes::Settings{s_.conninfo, s_.schema, s_.cluster, s_.node_id, s_.connect_timeout,
                               s_.lease, renew_timing(s_.lease)},
          sink_, statements_)) {}

DbWorker::~DbWorker() {
    stop(Duration{0});
}

void DbWorker::start() {
    thread_ = std::thread([this] { run(); });
    renewals_->start();
}

void DbWorker::stop(Duration drain) {
    std::lock_guard lk(stop_mu_);
    inbox_.stop(boot_clock::now() + drain);
    if (thread_.joinable())
        thread_.join();
    renewals_->stop();
}

void DbWorker::acquire(std::int64_t min_term) {
    inbox_.push(job::Acquire{min_term});
}

void DbWorker::renew(std::int64_t term) {
    renewals_->renew(term);
}

void DbWorker::release(std::int64_t term, std::string reserved_for) {
    inbox_.push(job::Release{term, std::move(reserved_for)});
}

void DbWorker::publish(NodeReport r) {
    inbox_.push(job::Publish{std::move(r)});
}

void DbWorker::record(std::string kind, std::string detail, std::int64_t term) {
    inbox_.push(job::Record{std::move(kind), std::move(detail), term});
}

void DbWorker::finish_command(std::int64_t id, std::string result) {
    inbox_.push(job::FinishCommand{id, std::move(result)});
}

void DbWorker::set_active(bool active) {
    if (active_.exchange(active) == active)
        return;
    inbox_.with([&](job::Inbox::Queue& q) {
        if (active)
            q.push(job::CheckCommands{});  // at once: a command may be waiting for the new active
        else
            q.clear<job::CheckCommands>();
    });
}

std::int64_t DbWorker::incarnation() const {
    std::lock_guard lk(mu_);
    return incarnation_;
}

std::map<std::string, std::int64_t> DbWorker::peer_incarnations() const {
    std::lock_guard lk(mu_);
    return peer_incarnations_;
}

std::uint64_t DbWorker::events_dropped() const {
    return inbox_.dropped();
}

void DbWorker::lost(const std::string& what) {
    connected_ = false;
    impl_->listener.reset();
    impl_->conn.reset();
    impl_->reconnect.failed(boot_clock::now());
    if (!impl_->reported_down) {
        // Logged once per change of state, not once per try.
        spdlog::warn("database connection lost: {}; retrying with backoff", what);
        impl_->reported_down = true;
    }
}

bool DbWorker::connect() {
    if (impl_->conn)
        return true;
    if (!impl_->reconnect.due(boot_clock::now()))
        return false;
    try {
        impl_->conn = open_connection(s_.conninfo, s_.connect_timeout, s_.statement_timeout);
        durable_lease_session(*impl_->conn);
        migrate(*impl_->conn, s_.schema);
        const auto inc = impl_->state.register_node(*impl_->conn, s_.hostname, s_.version, s_.pid,
                                                    s_.airflow_hostname, s_.stale_after);
        impl_->term_floor = impl_->state.highest_term(*impl_->conn);
        sink_(core::ev::term_floor{impl_->term_floor});
        auto peers = impl_->state.peer_incarnations(*impl_->conn);
        {
            // Every registration bumps the row: heartbeats carry the latest number, or peers
            // that read it from the database would take ours for replays.
            std::lock_guard lk(mu_);
            incarnation_ = inc;
            for (const auto& [node, n] : peers)
                peer_incarnations_[node] = std::max(peer_incarnations_[node], n);
        }
        impl_->listener = std::make_unique<Listener>(*impl_->conn, impl_->lease.channel(),
                                                     s_.cluster, sink_, inbox_);
        job::CheckPause first;
        execute(first);  // before the first acquire can be answered: it refuses while paused
        if (active_)
            inbox_.push(job::CheckCommands{});
        connected_ = true;
        impl_->reconnect.opened();
        if (impl_->reported_down || !impl_->was_connected)
            spdlog::info("database connection {}", impl_->was_connected ? "restored" : "open");
        impl_->reported_down = false;
        impl_->was_connected = true;
        return true;
    } catch (const std::exception& e) {
        lost(e.what());
        return false;
    }
}

void DbWorker::unavailable(job::Inbox::Job& j, const std::string& what) {
    std::visit(
        [&](auto& o) {
            using T = std::decay_t<decltype(o)>;
            if constexpr (std::is_same_v<T, job::Acquire>)
                sink_(core::ev::db_failure{core::ev::db_op::acquire, 0, what});
            else if constexpr (std::is_same_v<T, job::Release>)
                sink_(core::ev::db_failure{core::ev::db_op::release, o.term, what});
            else if constexpr (std::is_same_v<T, job::Record> ||
                               std::is_same_v<T, job::FinishCommand>)
                inbox_.push_front(std::move(o));  // owed to the log or to a waiting client
            // A node report is dropped (a newer one will come); polls are scheduled again
            // when the connection opens.
        },
        j);
}

void DbWorker::run() {
    for (;;) {
        auto next = inbox_.next(boot_clock::now());
        if (next.stop)
            return;
        if (!next.job) {
            // Nothing due: sleep until the next poll, new work, or NOTIFY on the connection;
            // without a connection, try again every 200 ms (connect() keeps its backoff).
            const TimePoint retry = boot_clock::now() + Duration{200};
            const bool notified =
                inbox_.wait(impl_->conn ? next.until : std::min(next.until, retry),
                            impl_->conn ? impl_->conn->sock() : -1);
            if (notified) {
                try {
                    impl_->conn->get_notifs();  // runs the Listener
                } catch (const std::exception& e) {
                    lost(e.what());
                }
            }
            if (!impl_->conn)
                connect();
            continue;
        }
        if (!connect()) {
            const bool lease_job = std::holds_alternative<job::Acquire>(*next.job) ||
                                   std::holds_alternative<job::Release>(*next.job);
            unavailable(*next.job, "database unavailable");
            // A lease request is answered at once; the rest waits for the next try.
            if (!lease_job)
                inbox_.wait(boot_clock::now() + Duration{200});
            continue;
        }
        try {
            std::visit([&](auto& j) { execute(j); }, *next.job);
        } catch (const pqxx::broken_connection& e) {
            unavailable(*next.job, e.what());
            lost(e.what());
        } catch (const std::exception& e) {
            // A statement error (timeout, constraint): the connection may be fine, but a
            // timed-out statement leaves it in an unknown state, so start afresh. The job is
            // not tried again (it may be the cause), but a lease request gets its answer.
            if (std::holds_alternative<job::Acquire>(*next.job) ||
                std::holds_alternative<job::Release>(*next.job))
                unavailable(*next.job, e.what());
            spdlog::warn("database statement failed: {}", e.what());
            lost(e.what());
        }
    }
}

}  // namespace af::db
