#include "af/db/renew_lanes.hpp"

#include <spdlog/spdlog.h>

#include <pqxx/pqxx>

#include "af/db/connection.hpp"

namespace af::db {

RenewLanes::RenewLanes(Settings s, LeaseSql lease, Sink sink,
                       std::atomic<std::uint64_t>& statements)
    : s_(std::move(s)), lease_(std::move(lease)), sink_(std::move(sink)), statements_(statements) {}

RenewLanes::~RenewLanes() {
    stop();
}

void RenewLanes::start() {
    for (auto& lane : lanes_)
        lane.thread = std::thread([this, &lane] { run(lane); });
}

void RenewLanes::stop() {
    for (auto& lane : lanes_) {
        {
            std::lock_guard lk(lane.mu);
            lane.stop = true;
        }
        lane.cv.notify_all();
    }
    for (auto& lane : lanes_)
        if (lane.thread.joinable())
            lane.thread.join();
}

void RenewLanes::renew(std::int64_t term) {
    // Alternate, so a lane that just answered is not always the one asked (both stay warm).
    const std::size_t first = next_++ % lanes_.size();
    for (std::size_t i = 0; i < lanes_.size(); ++i) {
        Lane& lane = lanes_[(first + i) % lanes_.size()];
        std::lock_guard lk(lane.mu);
        if (lane.busy || lane.pending)
            continue;
        lane.pending = term;
        lane.cv.notify_all();
        return;
    }
}

void RenewLanes::run(Lane& lane) {
    for (;;) {
        std::int64_t term;
        {
            std::unique_lock lk(lane.mu);
            lane.cv.wait(lk, [&] { return lane.stop || lane.pending.has_value(); });
            if (lane.stop)
                return;
            term = *lane.pending;
            lane.pending.reset();
            lane.busy = true;
        }
        try {
            if (!lane.conn) {
                if (boot_clock::now() < lane.next_connect)
                    throw std::runtime_error(
                        "database unavailable (renewal connection backing off)");
                try {
                    lane.conn =
                        open_connection(s_.conninfo, s_.connect_timeout, s_.statement_timeout);
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
            sink_(core::ev::renew_result{ok, term, sent});
        } catch (const std::exception& e) {
            lane.conn.reset();  // a failed or timed-out statement leaves it in doubt: start afresh
            sink_(core::ev::db_failure{core::ev::db_op::renew, term, e.what()});
        }
        std::lock_guard lk(lane.mu);
        lane.busy = false;
    }
}

}  // namespace af::db
