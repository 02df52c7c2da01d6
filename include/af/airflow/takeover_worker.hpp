#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "af/airflow/takeover_sql.hpp"
#include "af/config/config.hpp"
#include "af/core/election_event.hpp"

namespace af::airflow {

/// Runs the takeover step (act::take_over) on a thread of its own with its own connection to
/// Airflow's database, so neither a slow Airflow database nor a lost connection stalls the
/// event loop or the lease statements. Every request is answered with exactly one
/// ev::takeover_result through `sink` (called on the worker thread).
class TakeoverWorker {
  public:
    using Sink = std::function<void(core::Event)>;
    /// Where the node rows are (the daemon's database), for hostnames airflow.hostnames omits.
    struct NodeRows {
        std::string conninfo;
        std::string schema;
        std::string cluster;
    };
    TakeoverWorker(config::AirflowConfig cfg, NodeRows rows, Duration connect_timeout, Sink sink);
    ~TakeoverWorker();
    TakeoverWorker(const TakeoverWorker&) = delete;
    TakeoverWorker& operator=(const TakeoverWorker&) = delete;

    void start();
    void stop();
    /// Close out `previous_node`'s jobs for `term`.
    void take_over(std::int64_t term, std::string previous_node);

  private:
    struct Request {
        std::int64_t term;
        std::string node;
    };
    void run();
    core::ev::takeover_result handle(const Request& r);
    /// The previous holder's Airflow hostname: airflow.hostnames, else its node row ("" if the
    /// row records none). Throws on a database error.
    std::string hostname_of(const std::string& node);
    pqxx::connection& connection(std::unique_ptr<pqxx::connection>& c, const std::string& conninfo);

    config::AirflowConfig cfg_;
    NodeRows rows_;
    Duration connect_timeout_;
    Sink sink_;
    TakeoverSql sql_;
    std::unique_ptr<pqxx::connection> conn_;
    std::unique_ptr<pqxx::connection> rows_conn_;  ///< only when the databases differ
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Request> queue_;
    bool stop_{false};
    std::thread thread_;
};

}  // namespace af::airflow
