#include "af/db/db_worker.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <pqxx/except>
#include <pqxx/notification>

#include "af/db/command_sql.hpp"
#include "af/db/connection.hpp"
#include "af/db/lease_sql.hpp"
#include "af/db/migrations.hpp"
#include "af/db/pause_sql.hpp"
#include "af/db/scheduled_sql.hpp"

namespace af::db {

namespace {
constexpr std::size_t k_max_queued_records = 10000;

/// One LISTEN channel (the schema name) carries "<cluster>:released:<term>:<reserved_for>" from a
/// release, "<cluster>:command:<id>" from the commands trigger and "<cluster>:pause" from the
/// pause table's trigger (pause, resume).
class Listener final : public pqxx::notification_receiver {
  public:
    Listener(pqxx::connection& c, const std::string& channel, const std::string& cluster,
             DbWorker::Sink& sink, bool& commands_due, bool& pause_due)
        : pqxx::notification_receiver(c, channel),
          released_(cluster + ":released:"),
          command_(cluster + ":command:"),
          pause_(cluster + ":pause"),
          sink_(sink),
          commands_due_(commands_due),
          pause_due_(pause_due) {}
    void operator()(const std::string& payload, int) override {
        if (payload.rfind(released_, 0) == 0) {
            // "<cluster>:released:<term>:<reserved_for>"
            const auto colon = payload.find(':', released_.size());
            sink_(core::ev::lease_hint{colon == std::string::npos ? std::string()
                                                                  : payload.substr(colon + 1)});
        }
        if (payload.rfind(command_, 0) == 0)
            commands_due_ = true;
        if (payload == pause_)
            pause_due_ = true;
    }

  private:
    std::string released_;
    std::string command_;
    std::string pause_;
    DbWorker::Sink& sink_;
    bool& commands_due_;
    bool& pause_due_;
};
}  // namespace

struct DbWorker::Impl {
    LeaseSql lease;
    StateSql state;
    std::unique_ptr<pqxx::connection> conn;
    std::unique_ptr<Listener> listener;
    CommandSql commands;
    bool was_connected{false};
    bool reported_down{false};
    Duration backoff{100};
    TimePoint next_connect{};
    /// Highest term on record at connect. The core learns it too, but an acquire it queued
    /// before the connection opened still carries its old floor.
    std::int64_t term_floor{0};
};

DbWorker::DbWorker(WorkerSettings s, Sink sink)
    : s_(std::move(s)),
      sink_(std::move(sink)),
      impl_(std::make_unique<Impl>(Impl{LeaseSql(s_.schema, s_.cluster, s_.node_id),
                                        StateSql(s_.schema, s_.cluster, s_.node_id), nullptr,
                                        nullptr, CommandSql(s_.schema, s_.cluster, s_.node_id)})) {
    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0)
        throw std::runtime_error("eventfd failed");
    renewals_ = std::make_unique<RenewLanes>(
        RenewLanes::Settings{s_.conninfo, s_.connect_timeout, s_.ttl,
                             renew_timing(s_.ttl, s_.renew_interval, s_.fence_margin)},
        LeaseSql(s_.schema, s_.cluster, s_.node_id), sink_, statements_);
}

DbWorker::~DbWorker() {
    stop(Duration{0});
    if (wake_fd_ >= 0)
        close(wake_fd_);
}

void DbWorker::start() {
    thread_ = std::thread([this] { run(); });
    renewals_->start();
}

void DbWorker::stop(Duration drain) {
    {
        std::lock_guard lk(mu_);
        if (stopping_ && !thread_.joinable())
            return;
        stopping_ = true;
        drain_until_ = boot_clock::now() + drain;
    }
    wake();
    if (thread_.joinable())
        thread_.join();
    renewals_->stop();
}

void DbWorker::wake() {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = write(wake_fd_, &one, sizeof one);
}

void DbWorker::acquire(std::int64_t min_term) {
    {
        std::lock_guard lk(mu_);
        for (auto& op : lease_ops_)
            if (std::holds_alternative<Acquire>(op))
                return;
        lease_ops_.emplace_back(Acquire{min_term});
    }
    wake();
}

void DbWorker::renew(std::int64_t term) {
    renewals_->renew(term);
}

void DbWorker::release(std::int64_t term, std::string reserved_for) {
    {
        std::lock_guard lk(mu_);
        lease_ops_.emplace_back(Release{term, std::move(reserved_for)});
    }
    wake();
}

void DbWorker::finish_command(std::int64_t id, std::string result) {
    {
        std::lock_guard lk(mu_);
        finished_.emplace_back(id, std::move(result));
    }
    wake();
}

void DbWorker::set_active(bool active) {
    {
        std::lock_guard lk(mu_);
        if (active == active_)
            return;
        active_ = active;
        commands_due_ = active;  // look at once: a command may be waiting for the new active
    }
    wake();
}

void DbWorker::check_commands() {
    {
        std::lock_guard lk(mu_);
        const TimePoint now = boot_clock::now();
        if (!active_ || (!commands_due_ && now < next_command_check_))
            return;
        commands_due_ = false;
        next_command_check_ = now + Duration{2000};
    }
    for (int i = 0; i < 10; ++i) {
        statements_ += 3;
        std::vector<std::string> stale;
        auto cmd = impl_->commands.take(*impl_->conn, &stale);
        for (const auto& why : stale)
            spdlog::warn("not carried out: {}", why);
        if (!cmd)
            break;
        spdlog::info("command {} from {}: {} {}", cmd->id, cmd->requested_by, cmd->kind,
                     cmd->target.value_or(""));
        if (cmd->kind == "switchover")
            sink_(core::ev::switchover{cmd->target, cmd->requested_by, cmd->id});
        else if (cmd->kind == "terminate")
            sink_(core::ev::process_terminate{cmd->target.value_or(s_.default_process),
                                              cmd->requested_by, cmd->id});
    }
    // A switchover scheduled for a time (switchover --at): look again right when it falls due
    // (ceil: not before; at least 10 ms, so one that is due but cannot be taken never spins).
    ++statements_;
    if (const auto due = next_scheduled_ms(*impl_->conn, s_.schema, s_.cluster, s_.node_id)) {
        std::lock_guard lk(mu_);
        next_command_check_ = std::min(
            next_command_check_, boot_clock::now() + Duration{std::max<std::int64_t>(*due, 10)});
    }
}

void DbWorker::check_pause() {
    pause_due_ = false;
    // Often enough that a paused standby's view of the lease (from the same read) stays fresh.
    next_pause_check_ = boot_clock::now() + std::min(k_pause_check, s_.ttl / 3);
    ++statements_;
    const auto p = read_pause(*impl_->conn, s_.schema, s_.cluster);
    core::ev::paused e;
    if (p) {
        const auto l = glance_lease(*impl_->conn, s_.schema, s_.cluster);
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

void DbWorker::publish(NodeReport r) {
    {
        std::lock_guard lk(mu_);
        report_ = std::move(r);
    }
    wake();
}

void DbWorker::record(std::string kind, std::string detail, std::int64_t term) {
    {
        std::lock_guard lk(mu_);
        if (records_.size() >= k_max_queued_records) {
            records_.pop_front();
            ++dropped_;
        }
        records_.push_back(Record{std::move(kind), std::move(detail), term});
    }
    wake();
}

std::int64_t DbWorker::incarnation() const {
    std::lock_guard lk(mu_);
    return incarnation_;
}

std::map<std::string, std::int64_t> DbWorker::peer_incarnations() const {
    std::lock_guard lk(mu_);
    return peer_incarnations_;
}

std::uint64_t DbWorker::events_dropped() const {
    std::lock_guard lk(mu_);
    return dropped_;
}

void DbWorker::lost(const std::string& what) {
    connected_ = false;
    impl_->listener.reset();
    impl_->conn.reset();
    impl_->next_connect = boot_clock::now() + impl_->backoff;
    if (!impl_->reported_down) {
        // Logged once per change of state, not once per try.
        spdlog::warn("database connection lost: {}; retrying with backoff", what);
        impl_->reported_down = true;
    }
}

bool DbWorker::connect() {
    if (impl_->conn)
        return true;
    if (boot_clock::now() < impl_->next_connect)
        return false;
    try {
        impl_->conn = open_connection(s_.conninfo, s_.connect_timeout, s_.statement_timeout);
        migrate(*impl_->conn, s_.schema);
        const auto inc = impl_->state.register_node(*impl_->conn, s_.hostname, s_.version, s_.pid);
        impl_->term_floor = impl_->state.highest_term(*impl_->conn);
        sink_(core::ev::term_floor{impl_->term_floor});
        auto peers = impl_->state.peer_incarnations(*impl_->conn);
        {
            // Every registration bumps the row: heartbeats carry the latest number, or peers
            // that read it from the database would take ours for replays.
            std::lock_guard lk(mu_);
            incarnation_ = inc;
            for (const auto& [node, n] : peers)
                peer_incarnations_[node] = std::max(peer_incarnations_[node], n);
        }
        impl_->listener = std::make_unique<Listener>(*impl_->conn, impl_->lease.channel(),
                                                     s_.cluster, sink_, commands_due_, pause_due_);
        check_pause();
        {
            std::lock_guard lk(mu_);
            commands_due_ = active_;
        }
        connected_ = true;
        impl_->backoff = Duration{100};
        if (impl_->reported_down || !impl_->was_connected)
            spdlog::info("database connection {}", impl_->was_connected ? "restored" : "open");
        impl_->reported_down = false;
        impl_->was_connected = true;
        return true;
    } catch (const std::exception& e) {
        // Exponential backoff, capped: a down database is asked about twice a second at most.
        impl_->backoff = std::min(impl_->backoff * 2, Duration{2000});
        lost(e.what());
        return false;
    }
}

void DbWorker::fail(const LeaseOp& op, const std::string& what) {
    std::visit(
        [&](const auto& o) {
            using T = std::decay_t<decltype(o)>;
            if constexpr (std::is_same_v<T, Acquire>)
                sink_(core::ev::db_failure{core::ev::db_op::acquire, 0, what});

            else
                sink_(core::ev::db_failure{core::ev::db_op::release, o.term, what});
        },
        op);
}

void DbWorker::execute(const LeaseOp& op) {
    pqxx::connection& c = *impl_->conn;
    std::visit(
        [&](const auto& o) {
            using T = std::decay_t<decltype(o)>;
            // Read the clock before sending: the lease deadline counts from here.
            const TimePoint sent = boot_clock::now();
            if constexpr (std::is_same_v<T, Acquire>) {
                auto r = impl_->lease.acquire(c, s_.ttl, std::max(o.min_term, impl_->term_floor));
                if (r.won && !s_.fence_roles.empty() && !fence(r.term)) {
                    r.won = false;         // given back: no processes without the fence
                    r.remaining = s_.ttl;  // the core waits a poll before trying again
                }
                sink_(core::ev::acquire_result{r.won, r.term, r.holder, r.remaining, sent,
                                               r.previous_holder, r.previous_released});
            } else {
                const bool ok = impl_->lease.release(c, o.term, o.reserved_for, s_.ttl);
                sink_(core::ev::release_result{o.term, ok});
            }
        },
        op);
}

bool DbWorker::fence(std::int64_t term) {
    try {
        impl_->lease.fence(*impl_->conn, term, s_.fence_roles);
        statements_ += 3 + s_.fence_roles.size();
        impl_->state.record(*impl_->conn, "fenced_database",
                            "revoked login of the other nodes' roles and ended their sessions",
                            term);
        return true;
    } catch (const pqxx::broken_connection&) {
        throw;
    } catch (const std::exception& e) {
        spdlog::error("database fencing for term {} failed: {}; giving the lease back", term,
                      e.what());
        try {
            impl_->lease.release(*impl_->conn, term);
            impl_->state.record(*impl_->conn, "fencing_failed", e.what(), term);
        } catch (const std::exception& e2) {
            spdlog::error("could not give the lease back: {}", e2.what());
        }
        return false;
    }
}

void DbWorker::wait_for_work(Duration max_wait) {
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {-1, POLLIN, 0}};
    if (impl_->conn && impl_->conn->sock() >= 0)
        fds[1].fd = impl_->conn->sock();
    const int n = poll(fds, 2, static_cast<int>(max_wait.count()));
    if (n <= 0)
        return;
    if (fds[0].revents & POLLIN) {
        std::uint64_t v;
        [[maybe_unused]] auto r = read(wake_fd_, &v, sizeof v);
    }
    if (fds[1].fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
        try {
            impl_->conn->get_notifs();
        } catch (const std::exception& e) {
            lost(e.what());
        }
    }
}

void DbWorker::run() {
    for (;;) {
        std::optional<LeaseOp> op;
        std::optional<NodeReport> report;
        std::optional<Record> rec;
        std::optional<std::pair<std::int64_t, std::string>> fin;
        bool stop_now = false;
        {
            std::lock_guard lk(mu_);
            const bool idle =
                lease_ops_.empty() && !report_ && records_.empty() && finished_.empty();
            if (stopping_ && (idle || boot_clock::now() >= drain_until_))
                stop_now = true;
            if (!lease_ops_.empty()) {
                op = std::move(lease_ops_.front());
                lease_ops_.pop_front();
            } else if (report_) {
                report = std::move(report_);
                report_.reset();
            } else if (!finished_.empty()) {
                fin = std::move(finished_.front());
                finished_.pop_front();
            } else if (!records_.empty()) {
                rec = std::move(records_.front());
                records_.pop_front();
            }
        }
        if (stop_now)
            return;
        if (!op && !report && !rec && !fin) {
            if (impl_->conn) {
                try {
                    if (pause_due_ || boot_clock::now() >= next_pause_check_)
                        check_pause();
                    check_commands();
                } catch (const std::exception& e) {
                    lost(e.what());
                }
            }
            bool active;
            {
                std::lock_guard lk(mu_);
                active = active_;
            }
            // Commands: every 2 s while active, or sooner when a scheduled one falls due; the
            // pause row: every k_pause_check (NOTIFY is the fast path).
            Duration wait{200};
            if (impl_->conn) {
                const TimePoint now = boot_clock::now();
                TimePoint until = next_pause_check_;
                if (active)
                    until = std::min(until, next_command_check_);
                wait = std::clamp(std::chrono::ceil<Duration>(until - now), Duration{0},
                                  Duration{active ? 2000 : 60000});
            }
            wait_for_work(wait);
            if (!impl_->conn)
                connect();
            continue;
        }
        if (!connect()) {
            if (op)
                fail(*op, "database unavailable");
            // Keep what is owed to the log; drop a stale status report (a newer one will come).
            if (rec) {
                std::lock_guard lk(mu_);
                records_.push_front(std::move(*rec));
            }
            if (!op)
                wait_for_work(Duration{200});
            continue;
        }
        try {
            ++statements_;
            if (op)
                execute(*op);
            if (report)
                impl_->state.publish(*impl_->conn, *report);
            if (rec)
                impl_->state.record(*impl_->conn, rec->kind, rec->detail, rec->term);
            if (fin)
                impl_->commands.finish(*impl_->conn, fin->first, fin->second);
        } catch (const pqxx::broken_connection& e) {
            if (op)
                fail(*op, e.what());
            if (rec) {
                std::lock_guard lk(mu_);
                records_.push_front(std::move(*rec));
            }
            lost(e.what());
        } catch (const std::exception& e) {
            // A statement error (timeout, constraint): the connection may be fine, but a
            // timed-out statement leaves it in an unknown state, so start afresh.
            if (op)
                fail(*op, e.what());
            spdlog::warn("database statement failed: {}", e.what());
            lost(e.what());
        }
    }
}

}  // namespace af::db
