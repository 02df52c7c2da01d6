// Airflow's own liveness signal: this host's newest running scheduler job, started after our
// process, heartbeats in the `job` table. One cheap indexed query on Airflow's database, run on
// a thread of its own so a slow database never stalls the event loop.
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>

#include "af/airflow/job_hostname.hpp"
#include "af/db/connection.hpp"
#include "af/health/health_check.hpp"

namespace af::health {

namespace {

class AirflowDbCheck final : public HealthCheck {
  public:
    AirflowDbCheck(boost::asio::io_context& io, const config::AirflowDbHealth& c, Duration timeout)
        : io_(io), cfg_(c), timeout_(timeout), timer_(io) {
        thread_ = std::thread([this] { loop(); });
    }
    ~AirflowDbCheck() override {
        {
            std::lock_guard lk(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }

    void run(std::chrono::system_clock::time_point started, Done done) override {
        const std::uint64_t gen = ++generation_;
        done_ = std::move(done);
        timer_.expires_after(timeout_);
        timer_.async_wait([this, gen](const boost::system::error_code& ec) {
            if (!ec)
                complete(gen, false, "no answer from Airflow's database within the timeout");
        });
        {
            std::lock_guard lk(mu_);
            pending_ = Request{gen, started};
        }
        cv_.notify_all();
    }

  private:
    struct Request {
        std::uint64_t gen;
        std::chrono::system_clock::time_point started;
    };

    void complete(std::uint64_t gen, bool ok, const std::string& why) {
        if (gen != generation_ || !done_)
            return;  // a late answer to an earlier check
        timer_.cancel();
        auto d = std::move(done_);
        d(ok, why);
    }

    void loop() {
        std::unique_ptr<pqxx::connection> conn;
        for (;;) {
            Request req;
            {
                std::unique_lock lk(mu_);
                cv_.wait(lk, [this] { return stop_ || pending_.has_value(); });
                if (stop_)
                    return;
                req = *pending_;
                pending_.reset();
            }
            bool ok = false;
            std::string why;
            // Empty: the config (airflow.hostnames) names none, so Airflow's own default rule,
            // resolved here because getaddrinfo may block; once, as Airflow caches its own.
            if (cfg_.hostname.empty())
                cfg_.hostname = airflow::airflow_fqdn(airflow::system_lookup());
            try {
                if (!conn)
                    conn = db::open_connection(cfg_.conninfo, Duration{2000}, timeout_);
                // Slack for the start: Airflow writes start_date from this host's clock a moment
                // after we forked it; a job older than our process belongs to its predecessor.
                const double since = std::chrono::duration<double>(req.started.time_since_epoch() -
                                                                   std::chrono::seconds(2))
                                         .count();
                pqxx::nontransaction tx(*conn);
                const auto r = tx.exec_params(
                    "SELECT floor(extract(epoch FROM clock_timestamp() - max(latest_heartbeat))"
                    " * 1000)::bigint FROM job WHERE job_type = $1 AND hostname = $2"
                    " AND state = 'running' AND start_date >= to_timestamp($3)",
                    cfg_.job_type, cfg_.hostname, since);
                if (r.empty() || r[0][0].is_null()) {
                    why = "no running " + cfg_.job_type + " of host " + cfg_.hostname +
                          " started by this process";
                } else {
                    const auto age = r[0][0].as<long long>();
                    ok = age < cfg_.max_age.count();
                    why = cfg_.job_type + " heartbeat " + std::to_string(age) + " ms old";
                }
            } catch (const std::exception& e) {
                conn.reset();
                why = std::string("Airflow's database: ") + e.what();
            }
            boost::asio::post(io_, [this, gen = req.gen, ok, why] { complete(gen, ok, why); });
        }
    }

    boost::asio::io_context& io_;
    config::AirflowDbHealth cfg_;
    Duration timeout_;
    boost::asio::steady_timer timer_;
    std::uint64_t generation_{0};
    Done done_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::optional<Request> pending_;
    bool stop_{false};
    std::thread thread_;
};

}  // namespace

std::unique_ptr<HealthCheck> make_check(boost::asio::io_context& io,
                                        const config::AirflowDbHealth& c, Duration timeout) {
    return std::make_unique<AirflowDbCheck>(io, c, timeout);
}

}  // namespace af::health
