// What each job of the main connection does (DbWorker; the order they run in: db_jobs.hpp).
// Worker thread only. A pqxx::broken_connection or any other exception propagates to handle().
#include <spdlog/spdlog.h>

#include <pqxx/except>

#include "af/core/command_kind.hpp"
#include "af/db/db_worker.hpp"
#include "af/db/pause_sql.hpp"
#include "af/db/scheduled_sql.hpp"
#include "db_worker_impl.hpp"

namespace af::db {

namespace {
/// Read again at least this often in case a NOTIFY is missed (the acquire statement refuses
/// while paused, so a late read never lets a standby take over; it only delays what the holder
/// does).
constexpr Duration k_pause_check{2000};
/// The commands table while active, in case a NOTIFY is missed.
constexpr Duration k_command_check{2000};
}  // namespace

void DbWorker::execute(job::Acquire& j) {
    ++statements_;
    // Read the clock before sending: the lease deadline counts from here.
    const TimePoint sent = boot_clock::now();
    auto r =
        impl_->lease.acquire(impl_->conn(), s_.lease.ttl, std::max(j.min_term, impl_->term_floor));
    if (r.won && !s_.fence_roles.empty() && !fence(r.term)) {
        r.won = false;               // given back: no processes without the fence
        r.remaining = s_.lease.ttl;  // the core waits a poll before trying again
    }
    sink_(core::ev::acquire_result{r.won, r.term, r.holder, r.remaining, sent, r.previous_holder,
                                   r.previous_released, r.after_switchover});
}

void DbWorker::execute(job::Release& j) {
    ++statements_;
    const bool ok = impl_->lease.release(impl_->conn(), j.term, j.reserved_for, s_.lease.ttl);
    sink_(core::ev::release_result{j.term, ok});
}

void DbWorker::execute(job::Publish& j) {
    ++statements_;
    impl_->state.publish(impl_->conn(), j.report);
}

void DbWorker::execute(job::FinishCommand& j) {
    ++statements_;
    impl_->commands.finish(impl_->conn(), j.id, j.result);
}

void DbWorker::execute(job::Record& j) {
    ++statements_;
    impl_->state.record(impl_->conn(), j.kind, j.detail, j.term);
}

void DbWorker::execute(job::CheckPause&) {
    // Often enough that a paused standby's view of the lease (from the same read) stays fresh.
    inbox_.push(job::CheckPause{}, boot_clock::now() + std::min(k_pause_check, s_.lease.ttl / 3));
    ++statements_;
    const auto p = PauseSql(s_.scope).read(impl_->conn());
    core::ev::paused e;
    if (p) {
        const auto l = PauseSql(s_.scope).glance_lease(impl_->conn());
        e.lease_holder = l.holder;
        e.lease_term = l.term;
        e.lease_remaining = Duration{l.remaining_ms};
        e.on = true;
        e.stop_processes = p->stop_processes;
        e.by = p->paused_by;
        e.reason = p->reason;
        e.expires = p->remaining_ms.has_value();
        e.remaining = Duration{p->remaining_ms.value_or(0)};
    }
    sink_(std::move(e));
}

void DbWorker::execute(job::CheckCommands&) {
    if (!active_)
        return;  // a standby takes no commands; set_active(true) schedules the next look
    inbox_.push(job::CheckCommands{}, boot_clock::now() + k_command_check);
    for (int i = 0; i < 10; ++i) {
        statements_ += 3;
        std::vector<std::string> stale;
        auto cmd = impl_->commands.take(impl_->conn(), &stale);
        for (const auto& why : stale)
            spdlog::warn("not carried out: {}", why);
        if (!cmd)
            break;
        spdlog::info("command {} from {}: {} {}", cmd->id, cmd->requested_by, cmd->kind,
                     cmd->target.value_or(""));
        const auto kind = core::parse_command_kind(cmd->kind);
        if (!kind) {
            // Written by something newer than this daemon, or by hand: say so, do not hang it.
            spdlog::warn("command {}: unknown kind '{}'; refused", cmd->id, cmd->kind);
            finish_command(cmd->id, "refused: unknown command kind '" + cmd->kind + "'");
            continue;
        }
        switch (*kind) {
            case core::CommandKind::switchover:
                sink_(core::ev::switchover{cmd->target, cmd->requested_by, cmd->id});
                break;
            case core::CommandKind::terminate:
                sink_(core::ev::process_terminate{cmd->target.value_or(s_.default_process),
                                                  cmd->requested_by, cmd->id});
                break;
            case core::CommandKind::restart:
                sink_(core::ev::process_restart{cmd->target.value_or(s_.default_process),
                                                cmd->requested_by, cmd->id});
                break;
        }
    }
    // A switchover scheduled for a time (switchover --at): look again right when it falls due
    // (ceil: not before; at least 10 ms, so one that is due but cannot be taken never spins).
    // The queue keeps the earlier of this and the regular look.
    ++statements_;
    if (const auto due = ScheduledSql(s_.scope).next_due_ms(impl_->conn(), s_.node_id))
        inbox_.push(job::CheckCommands{},
                    boot_clock::now() + Duration{std::max<std::int64_t>(*due, 10)});
}

bool DbWorker::fence(std::int64_t term) {
    try {
        impl_->lease.fence(impl_->conn(), term, s_.fence_roles);
        statements_ += 3 + s_.fence_roles.size();
        impl_->state.record(impl_->conn(), "fenced_database",
                            "revoked login of the other nodes' roles and ended their sessions",
                            term);
        return true;
    } catch (const pqxx::broken_connection&) {
        throw;
    } catch (const std::exception& e) {
        spdlog::error("database fencing for term {} failed: {}; giving the lease back", term,
                      e.what());
        try {
            impl_->lease.release(impl_->conn(), term);
            impl_->state.record(impl_->conn(), "fencing_failed", e.what(), term);
        } catch (const std::exception& e2) {
            spdlog::error("could not give the lease back: {}", e2.what());
        }
        return false;
    }
}

}  // namespace af::db
