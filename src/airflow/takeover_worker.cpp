#include "af/airflow/takeover_worker.hpp"

#include <spdlog/spdlog.h>

#include <pqxx/pqxx>

#include "af/db/connection.hpp"

namespace af::airflow {

TakeoverWorker::TakeoverWorker(config::AirflowConfig cfg, Duration connect_timeout, Sink sink)
    : cfg_(std::move(cfg)),
      connect_timeout_(connect_timeout),
      sink_(std::move(sink)),
      sql_(cfg_.schema, cfg_.job_types) {}

TakeoverWorker::~TakeoverWorker() {
    stop();
}

void TakeoverWorker::start() {
    thread_ = std::thread([this] { run(); });
}

void TakeoverWorker::stop() {
    {
        std::lock_guard lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable())
        thread_.join();
}

void TakeoverWorker::take_over(std::int64_t term, std::string previous_node) {
    {
        std::lock_guard lk(mu_);
        queue_.push_back({term, std::move(previous_node)});
    }
    cv_.notify_all();
}

void TakeoverWorker::run() {
    for (;;) {
        Request r;
        {
            std::unique_lock lk(mu_);
            cv_.wait(lk, [this] { return stop_ || !queue_.empty(); });
            if (stop_)
                return;
            r = std::move(queue_.front());
            queue_.pop_front();
        }
        sink_(handle(r));
    }
}

core::ev::takeover_result TakeoverWorker::handle(const Request& r) {
    auto it = cfg_.hostnames.find(r.node);
    if (it == cfg_.hostnames.end())
        return {r.term, false,
                "airflow.hostnames has no entry for the previous holder " + r.node +
                    ", so its Airflow jobs cannot be found"};
    const std::string& host = it->second;
    // The connection is opened on demand and kept; a kept one may have died while idle (server
    // restart, idle timeout), so a broken connection is retried once on a fresh one.
    for (int attempt = 0;; ++attempt) {
        try {
            if (!conn_)
                conn_ = db::open_connection(cfg_.conninfo, connect_timeout_, cfg_.takeover_timeout);
            const auto jobs = sql_.close_out(*conn_, host);
            return {r.term, true,
                    describe(jobs, host) + " (previous holder " + r.node + ", fenced)"};
        } catch (const pqxx::broken_connection& e) {
            conn_.reset();
            if (attempt == 0)
                continue;
            return {r.term, false, std::string("Airflow's database unreachable: ") + e.what()};
        } catch (const std::exception& e) {
            conn_.reset();  // a timed-out statement leaves the session in an unknown state
            return {r.term, false,
                    "closing out the Airflow jobs of " + host + " failed: " + e.what()};
        }
    }
}

}  // namespace af::airflow
