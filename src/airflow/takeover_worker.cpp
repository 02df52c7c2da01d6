#include "af/airflow/takeover_worker.hpp"

#include <spdlog/spdlog.h>

#include <pqxx/pqxx>

#include "af/db/connection.hpp"

namespace af::airflow {

TakeoverWorker::TakeoverWorker(config::AirflowConfig cfg, NodeRows rows, Duration connect_timeout,
                               Sink sink)
    : cfg_(std::move(cfg)),
      rows_(std::move(rows)),
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

pqxx::connection& TakeoverWorker::connection(std::unique_ptr<pqxx::connection>& c,
                                             const std::string& conninfo) {
    if (!c)
        c = db::open_connection(conninfo, connect_timeout_, cfg_.takeover_timeout);
    return *c;
}

std::string TakeoverWorker::hostname_of(const std::string& node) {
    if (const auto it = cfg_.hostnames.find(node); it != cfg_.hostnames.end())
        return it->second;
    // Every daemon records its own at start-up (src/db/state_sql.cpp, register_node), before
    // it can hold a term.
    auto& c = rows_.conninfo == cfg_.conninfo ? connection(conn_, cfg_.conninfo)
                                              : connection(rows_conn_, rows_.conninfo);
    pqxx::nontransaction tx(c);
    const auto r = tx.exec_params("SELECT airflow_hostname FROM " + db::quoted(rows_.schema) +
                                      ".nodes WHERE cluster = $1 AND node_id = $2",
                                  rows_.cluster, node);
    return r.empty() ? std::string() : r[0][0].as<std::string>();
}

core::ev::takeover_result TakeoverWorker::handle(const Request& r) {
    // The connections are opened on demand and kept; a kept one may have died while idle
    // (server restart, idle timeout), so a broken connection is retried once on a fresh one.
    std::string host;
    for (int attempt = 0;; ++attempt) {
        try {
            if (host.empty()) {
                host = hostname_of(r.node);
                if (host.empty())
                    return {r.term, false,
                            "the previous holder " + r.node +
                                " recorded no Airflow hostname in its node row (a version "
                                "before the takeover default, or no Airflow process) and "
                                "airflow.hostnames has no entry for it, so its Airflow jobs "
                                "cannot be found"};
            }
            const auto jobs = sql_.close_out(connection(conn_, cfg_.conninfo), host);
            return {r.term, true,
                    describe(jobs, host) + " (previous holder " + r.node + ", fenced)"};
        } catch (const pqxx::broken_connection& e) {
            conn_.reset();
            rows_conn_.reset();
            if (attempt == 0)
                continue;
            return {r.term, false, std::string("a database is unreachable: ") + e.what()};
        } catch (const std::exception& e) {
            conn_.reset();  // a timed-out statement leaves the session in an unknown state
            rows_conn_.reset();
            return {r.term, false,
                    (host.empty() ? "finding the Airflow hostname of " + r.node
                                  : "closing out the Airflow jobs of " + host) +
                        " failed: " + e.what()};
        }
    }
}

}  // namespace af::airflow
