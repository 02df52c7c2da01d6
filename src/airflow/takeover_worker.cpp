#include "af/airflow/takeover_worker.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <pqxx/pqxx>
#include <thread>

#include "af/db/cluster_view.hpp"
#include "af/db/connection.hpp"

namespace af::airflow {

namespace {

std::string what_failed(const std::string& node, const std::string& host) {
    return host.empty() ? "finding the Airflow hostname of " + node + " failed"
                        : "closing out the Airflow jobs of " + host + " failed";
}

}  // namespace

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
        queue_.push_back({term, std::move(previous_node), std::chrono::steady_clock::now()});
    }
    cv_.notify_all();
}

void TakeoverWorker::cancel(std::int64_t term) {
    bool dropped = false;  // queued, or still connecting: the statement can no longer be sent
    {
        std::lock_guard lk(mu_);
        for (auto it = queue_.begin(); it != queue_.end(); ++it)
            if (it->term == term) {
                queue_.erase(it);
                dropped = true;
                break;
            }
        if (current_ == term && !sent_ && !cancelled_) {
            cancelled_ = true;  // the worker checks it before sending, and answers nothing
            dropped = true;
        } else if (current_ == term && running_) {
            // PQcancel is meant to be called from another thread; the worker clears running_
            // under this lock before it touches the connection again. Its answer follows.
            running_->cancel_query();
        }
    }
    if (dropped)
        sink_(core::ev::takeover_result{term, false, "cancelled before it ran"});
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
            current_ = r.term;
            cancelled_ = false;
            sent_ = false;
        }
        auto result = handle(r);
        bool answered = false;  // cancel() answered it before it was sent (even if it failed)
        {
            std::lock_guard lk(mu_);
            answered = cancelled_;
            current_ = 0;
        }
        if (result && !answered)
            sink_(std::move(*result));
    }
}

std::string TakeoverWorker::hostname_of(const std::string& node, pqxx::connection& airflow) {
    if (const auto it = cfg_.hostnames.find(node); it != cfg_.hostnames.end())
        return it->second;
    // Every daemon records its own at start-up (src/db/sql/state_sql.cpp, register_node), before
    // it can hold a term.
    std::unique_ptr<pqxx::connection> own;  // only when the databases differ
    if (rows_.conninfo != cfg_.conninfo)
        own = db::open_connection(rows_.conninfo, connect_timeout_, cfg_.takeover_timeout);
    return db::ClusterSql(rows_.scope).airflow_hostname(own ? *own : airflow, node);
}

std::optional<core::ev::takeover_result> TakeoverWorker::handle(const Request& r) {
    std::string host;
    // Below the core's wait, so that normally the answer, not the timeout, ends the gate; the
    // core still waits for this answer after cancelling, as a statement can outlive any bound
    // the client sets (a connect that took long, a slow network).
    const Duration bound = std::max(Duration{50}, cfg_.takeover_timeout * 3 / 4);
    // A connection per takeover (one per term): a kept one may have died while idle, and a
    // retry could not tell whether the first attempt's statement still runs.
    std::unique_ptr<pqxx::connection> conn;
    bool sent = false;
    try {
        conn = db::open_connection(cfg_.conninfo, connect_timeout_, bound);
        host = hostname_of(r.node, *conn);
        if (host.empty())
            return core::ev::takeover_result{
                r.term, false,
                "the previous holder " + r.node +
                    " recorded no Airflow hostname in its node row (a version before the "
                    "takeover default, or no Airflow process) and airflow.hostnames has no "
                    "entry for it, so its Airflow jobs cannot be found"};
        {
            std::lock_guard lk(mu_);
            if (cancelled_)
                return std::nullopt;  // cancel() answered it
            running_ = conn.get();
            sent_ = sent = true;
        }
        const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - r.asked);
        std::vector<ClosedJob> jobs;
        try {
            jobs = sql_.close_out(*conn, host, age);
        } catch (...) {
            std::lock_guard lk(mu_);
            running_ = nullptr;
            throw;
        }
        {
            std::lock_guard lk(mu_);
            running_ = nullptr;
        }
        // Only the lease proves the previous holder gone (released, or expired on the database
        // clock); database fencing, when configured, is reported by its own event.
        return core::ev::takeover_result{r.term, true,
                                         describe(jobs, host) + " (previous holder " + r.node +
                                             ", whose term ended on the database clock)"};
    } catch (const pqxx::broken_connection& e) {
        if (sent) {
            // The server may still be running the statement: let its statement_timeout pass,
            // so that what is answered next is final.
            std::this_thread::sleep_for(bound);
            return core::ev::takeover_result{
                r.term, false,
                std::string("Airflow's database connection broke during the takeover "
                            "statement (waited out its timeout): ") +
                    e.what()};
        }
        return core::ev::takeover_result{
            r.term, false, std::string("Airflow's database unreachable: ") + e.what()};
    } catch (const pqxx::sql_error& e) {
        return core::ev::takeover_result{
            r.term, false,
            what_failed(r.node, host) + " (SQLSTATE " + e.sqlstate() + "): " + e.what()};
    } catch (const std::exception& e) {
        return core::ev::takeover_result{r.term, false,
                                         what_failed(r.node, host) + ": " + e.what()};
    }
}

}  // namespace af::airflow
