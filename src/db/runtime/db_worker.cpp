#include "af/db/db_worker.hpp"

#include <spdlog/spdlog.h>

#include <pqxx/except>

#include "af/db/migrations.hpp"
#include "db_worker_impl.hpp"

namespace af::db {

DbWorker::DbWorker(WorkerSettings s, Sink sink)
    : s_(std::move(s)),
      sink_(std::move(sink)),
      impl_(
          std::make_unique<Impl>(s_, Impl::Worker::Calls{[this](job::Inbox::Job& j) { handle(j); },
                                                         [this](pqxx::connection&) { opened(); },
                                                         [this] { impl_->listener.reset(); }})),
      inbox_(impl_->worker.inbox()),
      renewals_(std::make_unique<RenewLanes>(
          RenewLanes::Settings{s_.conninfo, s_.scope, s_.node_id, s_.connect_timeout, s_.lease,
                               renew_timing(s_.lease)},
          sink_, statements_)) {}

DbWorker::~DbWorker() {
    stop(Duration{0});
}

void DbWorker::start() {
    impl_->worker.start();
    renewals_->start();
}

void DbWorker::stop(Duration drain) {
    std::lock_guard lk(stop_mu_);
    impl_->worker.stop(boot_clock::now() + drain);
    impl_->worker.join();
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

bool DbWorker::connected() const {
    return impl_->worker.connected();
}

std::uint64_t DbWorker::events_dropped() const {
    return inbox_.dropped();
}

void DbWorker::opened() {
    pqxx::connection& c = impl_->conn();
    migrate(c, s_.scope.schema);
    const auto inc = impl_->state.register_node(c, s_.hostname, s_.version, s_.pid,
                                                s_.airflow_hostname, s_.stale_after);
    impl_->term_floor = impl_->state.highest_term(c);
    sink_(core::ev::term_floor{impl_->term_floor});
    auto peers = impl_->state.peer_incarnations(c);
    {
        // Every registration bumps the row: heartbeats carry the latest number, or peers that
        // read it from the database would take ours for replays.
        std::lock_guard lk(mu_);
        incarnation_ = inc;
        for (const auto& [node, n] : peers)
            peer_incarnations_[node] = std::max(peer_incarnations_[node], n);
    }
    impl_->listener =
        std::make_unique<Listener>(c, impl_->lease.channel(), s_.scope.cluster, sink_, inbox_);
    job::CheckPause first;
    execute(first);  // before the first acquire can be answered: it refuses while paused
    if (active_)
        inbox_.push(job::CheckCommands{});
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

void DbWorker::handle(job::Inbox::Job& j) {
    auto& w = impl_->worker;
    const bool lease_job =
        std::holds_alternative<job::Acquire>(j) || std::holds_alternative<job::Release>(j);
    if (!w.connect()) {
        unavailable(j, "database unavailable");
        // A lease request is answered at once; the rest waits for the next try.
        if (!lease_job)
            inbox_.wait(boot_clock::now() + Impl::Worker::k_retry);
        return;
    }
    try {
        std::visit([&](auto& o) { execute(o); }, j);
    } catch (const pqxx::broken_connection& e) {
        unavailable(j, e.what());
        w.lost(e.what());
    } catch (const std::exception& e) {
        // A statement error (timeout, constraint): the connection may be fine, but a timed-out
        // statement leaves it in an unknown state, so start afresh. The job is not tried again
        // (it may be the cause), but a lease request gets its answer.
        if (lease_job)
            unavailable(j, e.what());
        spdlog::warn("database statement failed: {}", e.what());
        w.lost(e.what());
    }
}

}  // namespace af::db
