#include "af/db/renew_lanes.hpp"

#include <spdlog/spdlog.h>

#include <pqxx/pqxx>

#include "af/db/connection.hpp"

namespace af::db {

RenewLanes::RenewLanes(Settings s, LeaseSql lease, Sink sink,
                       std::atomic<std::uint64_t>& statements)
    : s_(std::move(s)),
      lease_(std::move(lease)),
      sink_(std::move(sink)),
      statements_(statements),
      schedule_(k_lanes, s_.timing.hedge_after) {
    for (std::size_t i = 0; i < lanes_.size(); ++i)
        lanes_[i].index = i;
}

RenewLanes::~RenewLanes() {
    stop();
}

void RenewLanes::start() {
    for (auto& lane : lanes_)
        lane.thread = std::thread([this, &lane] { run(lane); });
}

void RenewLanes::stop() {
    {
        std::lock_guard lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    for (auto& lane : lanes_)
        if (lane.thread.joinable())
            lane.thread.join();
}

void RenewLanes::assign(const LaneSchedule::Send& s) {
    lanes_[s.lane].pending = s.term;
    cv_.notify_all();
}

void RenewLanes::renew(std::int64_t term) {
    std::lock_guard lk(mu_);
    if (auto s = schedule_.request(term, boot_clock::now()))
        assign(*s);
}

void RenewLanes::run(Lane& lane) {
    for (;;) {
        std::int64_t term;
        {
            std::unique_lock lk(mu_);
            for (;;) {
                if (stop_)
                    return;
                // Any idle lane may notice that a renewal waits too long and hand out its copy.
                if (auto h = schedule_.hedge(boot_clock::now()))
                    assign(*h);
                if (lane.pending)
                    break;
                const TimePoint due = schedule_.next_hedge();
                if (due == TimePoint::max())
                    cv_.wait(lk);
                else
                    cv_.wait_for(lk, due - boot_clock::now());
            }
            term = *lane.pending;
            lane.pending.reset();
        }
        send(lane, term);
    }
}

void RenewLanes::send(Lane& lane, std::int64_t term) {
    std::optional<core::Event> result;
    try {
        if (!lane.conn) {
            if (boot_clock::now() < lane.next_connect)
                throw std::runtime_error("database unavailable (renewal connection backing off)");
            try {
                const TcpTuning tcp{s_.timing.tcp_user_timeout, s_.timing.keepalive_idle_s,
                                    s_.timing.keepalive_interval_s, s_.timing.keepalive_count};
                lane.conn = open_connection(s_.conninfo, s_.connect_timeout,
                                            s_.timing.statement_timeout, tcp);
                lane.backoff = Duration{100};
            } catch (...) {
                lane.next_connect = boot_clock::now() + lane.backoff;
                lane.backoff = std::min(lane.backoff * 2, Duration{2000});
                throw;
            }
        }
        // The lease deadline counts from the moment before the statement is sent.
        const TimePoint sent = boot_clock::now();
        const bool ok = lease_.renew(*lane.conn, term, s_.ttl);
        ++statements_;
        result = core::ev::renew_result{ok, term, sent};
    } catch (const std::exception& e) {
        lane.conn.reset();  // a failed or timed-out statement leaves it in doubt: start afresh
        result = core::ev::db_failure{core::ev::db_op::renew, term, e.what()};
    }
    bool report;
    {
        std::lock_guard lk(mu_);
        // A refusal is an answer (the lease is gone), not a lane failure.
        report =
            schedule_.done(lane.index, std::holds_alternative<core::ev::renew_result>(*result));
    }
    cv_.notify_all();  // an idle lane may now take a waiting hedge
    if (report)
        sink_(std::move(*result));
}

}  // namespace af::db
