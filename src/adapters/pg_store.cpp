#include "af/adapters/pg_store.hpp"

#include <boost/asio/post.hpp>
#include <variant>

namespace af::adapters {

PgStore::PgStore(boost::asio::io_context& io, db::WorkerSettings settings) : io_(io) {
    // Results arrive on the worker's threads and are handed to the loop.
    db_ = std::make_unique<db::DbWorker>(std::move(settings), [this](core::Event e) {
        boost::asio::post(io_, [this, e = std::move(e)]() mutable { route(std::move(e)); });
    });
}

PgStore::~PgStore() = default;

void PgStore::start(ports::EventSink sink) {
    lease_ = std::move(sink);
    db_->start();
}

void PgStore::stop(Duration drain) {
    db_->stop(drain);
    // Results posted before the stop are still in the loop's queue: they go nowhere now.
    lease_ = nullptr;
    commands_ = nullptr;
}

void PgStore::route(core::Event e) {
    const bool command = std::holds_alternative<core::ev::switchover>(e) ||
                         std::holds_alternative<core::ev::process_terminate>(e) ||
                         std::holds_alternative<core::ev::process_restart>(e);
    // A copy: the daemon may stop the store (and so clear its sinks) while handling the event.
    const ports::EventSink to = command && commands_ ? commands_ : lease_;
    if (to)
        to(std::move(e));
}

void PgStore::publish(ports::NodeRow row) {
    db::NodeReport r;
    r.role = std::move(row.role);
    r.state = std::move(row.state);
    r.term = row.term;
    r.processes_json = std::move(row.processes_json);
    r.peers_json = std::move(row.peers_json);
    r.counters_json = std::move(row.counters_json);
    r.priority = row.priority;
    db_->publish(std::move(r));
}

ports::StoreCounters PgStore::counters() const {
    return {.connected = db_->connected(),
            .statements = db_->statements(),
            .events_dropped = db_->events_dropped(),
            .incarnation = db_->incarnation(),
            .peer_incarnations = db_->peer_incarnations()};
}

}  // namespace af::adapters
