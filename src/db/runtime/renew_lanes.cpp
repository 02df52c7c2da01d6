#include "af/db/renew_lanes.hpp"

#include <spdlog/spdlog.h>

#include <mutex>
#include <pqxx/pqxx>
#include <vector>

#include "af/db/connection_worker.hpp"
#include "af/db/job_queue.hpp"
#include "af/db/lane_schedule.hpp"
#include "af/db/lease_sql.hpp"

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
}  // namespace

struct RenewLanes::Impl {
    struct Lane {
        using Worker = ConnectionWorker<Renew, LookForHedge>;
        Lane(Impl& impl, std::size_t i)
            : index(i),
              worker(
                  ConnectionSettings{
                      impl.s.conninfo, impl.s.connect_timeout, impl.s.timing.statement_timeout,
                      TcpTuning{impl.s.timing.tcp_user_timeout, impl.s.timing.keepalive_idle_s,
                                impl.s.timing.keepalive_interval_s, impl.s.timing.keepalive_count},
                      false},
                  {[&impl, this](Worker::Job& j) { impl.run(*this, j); }, {}, {}}) {}
        const std::size_t index;
        Worker worker;
    };

    Impl(Settings settings, Sink sink_, std::atomic<std::uint64_t>& statements_)
        : s(std::move(settings)),
          lease(s.scope, s.node_id),
          sink(std::move(sink_)),
          statements(statements_),
          schedule(k_lanes, s.timing.hedge_after) {
        for (std::size_t i = 0; i < k_lanes; ++i)
            lanes.push_back(std::make_unique<Lane>(*this, i));
    }

    void run(Lane& lane, Lane::Worker::Job& job);
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
    std::vector<std::unique_ptr<Lane>> lanes;
};

RenewLanes::RenewLanes(Settings s, Sink sink, std::atomic<std::uint64_t>& statements)
    : impl_(std::make_unique<Impl>(std::move(s), std::move(sink), statements)) {}

RenewLanes::~RenewLanes() {
    stop();
}

void RenewLanes::start() {
    for (auto& lane : impl_->lanes)
        lane->worker.start();
}

void RenewLanes::stop() {
    for (auto& lane : impl_->lanes)
        lane->worker.stop(TimePoint::min());  // a renewal not yet sent is worth nothing now
    for (auto& lane : impl_->lanes)
        lane->worker.join();
}

void RenewLanes::renew(std::int64_t term) {
    std::lock_guard lk(impl_->mu);
    const TimePoint now = boot_clock::now();
    if (auto s = impl_->schedule.request(term, now))
        impl_->assign(*s, true, now);
}

void RenewLanes::Impl::assign(const LaneSchedule::Send& send, bool request, TimePoint now) {
    lanes[send.lane]->worker.inbox().push(Renew{send.term});
    if (request)
        for (auto& other : lanes)
            if (other->index != send.lane)
                other->worker.inbox().push(LookForHedge{}, now + s.timing.hedge_after);
}

void RenewLanes::Impl::look_for_hedge(Lane& lane) {
    std::lock_guard lk(mu);
    const TimePoint now = boot_clock::now();
    if (auto h = schedule.hedge(now))
        assign(*h, false, now);
    else if (const TimePoint due = schedule.next_hedge(); due != TimePoint::max())
        lane.worker.inbox().push(LookForHedge{}, due);  // a newer renewal is not yet due for a copy
}

void RenewLanes::Impl::run(Lane& lane, Lane::Worker::Job& job) {
    if (const auto* r = std::get_if<Renew>(&job))
        send(lane, r->term);
    else
        look_for_hedge(lane);
}

void RenewLanes::Impl::send(Lane& lane, std::int64_t term) {
    std::optional<core::Event> result;
    try {
        // Opened at the first renewal (a standby holds no renewal connection).
        if (!lane.worker.connect())
            throw std::runtime_error(lane.worker.error());
        // The lease deadline counts from the moment before the statement is sent.
        const TimePoint sent = boot_clock::now();
        const bool ok = lease.renew(*lane.worker.conn(), term, s.lease.ttl);
        ++statements;
        result = core::ev::renew_result{ok, term, sent};
    } catch (const std::exception& e) {
        lane.worker.drop();  // a failed or timed-out statement leaves it in doubt: start afresh
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
