#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>

#include "af/db/db_worker.hpp"
#include "af/ports/command_source.hpp"
#include "af/ports/lease_store.hpp"

namespace af::adapters {

/// The LeaseStore and CommandSource ports over PostgreSQL: one DbWorker (its own threads and
/// connections), whose results are posted to the event loop. Operator commands come on the
/// same connection and are routed to the command sink.
class PgStore : public ports::LeaseStore, public ports::CommandSource {
  public:
    PgStore(boost::asio::io_context& io, db::WorkerSettings settings);
    ~PgStore() override;

    void start(ports::EventSink sink) override;
    void stop(Duration drain) override;
    void acquire(std::int64_t min_term) override { db_->acquire(min_term); }
    void renew(std::int64_t term) override { db_->renew(term); }
    void release(std::int64_t term, std::string reserved_for) override {
        db_->release(term, std::move(reserved_for));
    }
    void publish(ports::NodeRow row) override;
    void record(std::string kind, std::string detail, std::int64_t term) override {
        db_->record(std::move(kind), std::move(detail), term);
    }
    ports::StoreCounters counters() const override;

    void listen(ports::EventSink sink) override { commands_ = std::move(sink); }
    void set_active(bool active) override { db_->set_active(active); }
    void finish(std::int64_t id, std::string result) override {
        db_->finish_command(id, std::move(result));
    }

  private:
    void route(core::Event e);

    boost::asio::io_context& io_;
    ports::EventSink lease_;
    ports::EventSink commands_;
    std::unique_ptr<db::DbWorker> db_;
};

}  // namespace af::adapters
