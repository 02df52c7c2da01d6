#include "af/db/renew_lanes.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>

#include "af/db/connection.hpp"
#include "af/db/job_queue.hpp"
#include "af/db/lane_schedule.hpp"
#include "af/db/lease_sql.hpp"
#include "af/db/mailbox.hpp"
#include "af/db/reconnect_backoff.hpp"

namespace af::db {

namespace {
/// A lane's work: the renewal to send, and behind it a look for a renewal that has waited long
/// enough to be worth a copy on this (then idle) lane.
struct Renew {
    static constexpr JobPolicy policy{0};
    std::int64_t term;
};
struct LookForHedge {
    static constexpr JobPolicy policy{1, Merge::earliest, 0, true};
};
using LaneInbox = Mailbox<Renew, LookForHedge>;
}  // namespace

struct RenewLanes::Impl {
    struct Lane {
        std::size_t index{0};
        LaneInbox inbox;
        // The lane's thread only:
        std::unique_ptr<pqxx::connection> conn;
        ReconnectBackoff reconnect;
        std::thread thread;
    };

    Impl(Settings settings, Sink sink_, std::atomic<std::uint64_t>& statements_)
        : s(std::move(settings)),
          lease(s.schema, s.cluster, s.node_id),
          sink(std::move(sink_)),
          statements(statements_),
          schedule(k_lanes, s.timing.hedge_after) {
        for (std::size_t i = 0; i < lanes.size(); ++i)
            lanes[i].index = i;
    }

    void run(Lane& lane);
    /// Sends one renewal on the lane's connection. The result goes to the sink unless a sibling
    /// copy of the same renewal already decided (or is still out and will).
    void send(Lane& lane, std::int64_t term);
    void look_for_hedge(Lane& lane);
    /// Under mu: hands a renewal to its lane. A request (not a copy) also asks every other lane
    /// to look for it once it has waited hedge_after: whichever is idle then copies it.
    void assign(const LaneSchedule::Send& send, bool request, TimePoint now);

    Settings s;
    LeaseSql lease;
    Sink sink;
    std::atomic<std::uint64_t>& statements;
    std::mutex mu;
    LaneSchedule schedule;  ///< guarded by mu
    std::array<Lane, k_lanes> lanes;
};

RenewLanes::RenewLanes(Settings s, Sink sink, std::atomic<std::uint64_t>& statements)
    : impl_(std::make_unique<Impl>(std::move(s), std::move(sink), statements)) {}

RenewLanes::~RenewLanes() {
    stop();
}

void RenewLanes::start() {
    for (auto& lane : impl_->lanes)
        lane.thread = std::thread([this, &lane] { impl_->run(lane); });
}

void RenewLanes::stop() {
    for (auto& lane : impl_->lanes)
        lane.inbox.stop(TimePoint::min());  // a renewal not yet sent is worth nothing now
    for (auto& lane : impl_->lanes)
        if (lane.thread.joinable())
            lane.thread.join();
}

void RenewLanes::renew(std::int64_t term) {
    std::lock_guard lk(impl_->mu);
    const TimePoint now = boot_clock::now();
    if (auto s = impl_->schedule.request(term, now))
        impl_->assign(*s, true, now);
}

void RenewLanes::Impl::assign(const LaneSchedule::Send& send, bool request, TimePoint now) {
    lanes[send.lane].inbox.push(Renew{send.term});
    if (request)
        for (auto& other : lanes)
            if (other.index != send.lane)
                other.inbox.push(LookForHedge{}, now + s.timing.hedge_after);
}

void RenewLanes::Impl::look_for_hedge(Lane& lane) {
    std::lock_guard lk(mu);
    const TimePoint now = boot_clock::now();
    if (auto h = schedule.hedge(now))
        assign(*h, false, now);
    else if (const TimePoint due = schedule.next_hedge(); due != TimePoint::max())
        lane.inbox.push(LookForHedge{}, due);  // a newer renewal is not yet due for a copy
}

void RenewLanes::Impl::run(Lane& lane) {
    for (;;) {
        auto next = lane.inbox.next(boot_clock::now());
        if (next.stop)
            return;
        if (!next.job)
            lane.inbox.wait(next.until);
        else if (const auto* r = std::get_if<Renew>(&*next.job))
            send(lane, r->term);
        else
            look_for_hedge(lane);
    }
}

void RenewLanes::Impl::send(Lane& lane, std::int64_t term) {
    std::optional<core::Event> result;
    try {
        if (!lane.conn) {
            if (!lane.reconnect.due(boot_clock::now()))
                throw std::runtime_error("database unavailable (renewal connection backing off)");
            try {
                const TcpTuning tcp{s.timing.tcp_user_timeout, s.timing.keepalive_idle_s,
                                    s.timing.keepalive_interval_s, s.timing.keepalive_count};
                auto conn =
                    open_connection(s.conninfo, s.connect_timeout, s.timing.statement_timeout, tcp);
                durable_lease_session(*conn);
                lane.conn = std::move(conn);
                lane.reconnect.opened();
            } catch (...) {
                lane.reconnect.failed(boot_clock::now());
                throw;
            }
        }
        // The lease deadline counts from the moment before the statement is sent.
        const TimePoint sent = boot_clock::now();
        const bool ok = lease.renew(*lane.conn, term, s.lease.ttl);
        ++statements;
        result = core::ev::renew_result{ok, term, sent};
    } catch (const std::exception& e) {
        lane.conn.reset();  // a failed or timed-out statement leaves it in doubt: start afresh
        result = core::ev::db_failure{core::ev::db_op::renew, term, e.what()};
    }
    bool report;
    {
        std::lock_guard lk(mu);
        // A refusal is an answer (the lease is gone), not a lane failure.
        report = schedule.done(lane.index, std::holds_alternative<core::ev::renew_result>(*result));
        // This lane is idle now: a renewal already waiting for a copy can have it at once.
        const TimePoint now = boot_clock::now();
        if (auto h = schedule.hedge(now))
            assign(*h, false, now);
    }
    if (report)
        sink(std::move(*result));
}

}  // namespace af::db
