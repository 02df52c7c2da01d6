#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "af/airflow/takeover_sql.hpp"
#include "af/config/config.hpp"
#include "af/core/election_event.hpp"
#include "af/db/scope.hpp"
#include "af/ports/optional_parts.hpp"

namespace af::airflow {

/// Runs the takeover step (act::take_over) on a thread of its own with its own connection to
/// Airflow's database, so neither a slow Airflow database nor a lost connection stalls the
/// event loop or the lease statements. Every request is answered with exactly one
/// ev::takeover_result through `sink` (called on the worker thread).
class TakeoverWorker : public ports::Takeover {
  public:
    using Sink = std::function<void(core::Event)>;
    /// Where the node rows are (the daemon's database), for hostnames airflow.hostnames omits.
    struct NodeRows {
        std::string conninfo;
        db::Scope scope;
    };
    TakeoverWorker(config::AirflowConfig cfg, NodeRows rows, Duration connect_timeout, Sink sink);
    ~TakeoverWorker() override;
    TakeoverWorker(const TakeoverWorker&) = delete;
    TakeoverWorker& operator=(const TakeoverWorker&) = delete;

    void start();
    void stop() override;
    /// Close out `previous_node`'s jobs for `term`.
    void take_over(std::int64_t term, std::string previous_node) override;
    /// Cancel `term`'s statement (queued: dropped; running: the server is asked to cancel it).
    /// Its ev::takeover_result still follows, and then says what happened.
    void cancel(std::int64_t term) override;

  private:
    struct Request {
        std::int64_t term;
        std::string node;
        std::chrono::steady_clock::time_point asked;
    };
    void run();
    std::optional<core::ev::takeover_result> handle(const Request& r);
    /// The previous holder's Airflow hostname: airflow.hostnames, else its node row ("" if the
    /// row records none), read on `airflow` when the node rows live in the same database.
    /// Throws on a database error.
    std::string hostname_of(const std::string& node, pqxx::connection& airflow);

    config::AirflowConfig cfg_;
    NodeRows rows_;
    Duration connect_timeout_;
    Sink sink_;
    TakeoverSql sql_;
    std::mutex mu_;
    std::int64_t current_{0};             ///< the term being handled (0: none)
    bool cancelled_{false};               ///< cancel() came for `current_` and answered it
    bool sent_{false};                    ///< `current_`'s statement may have reached the server
    pqxx::connection* running_{nullptr};  ///< the connection in its statement
    std::condition_variable cv_;
    std::deque<Request> queue_;
    bool stop_{false};
    std::thread thread_;
};

}  // namespace af::airflow
