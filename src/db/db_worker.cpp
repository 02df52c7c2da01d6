#include "af/db/db_worker.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <pqxx/except>
#include <pqxx/notification>

#include "af/db/connection.hpp"
#include "af/db/lease_sql.hpp"
#include "af/db/migrations.hpp"

namespace af::db {

namespace {
constexpr std::size_t k_max_queued_records = 10000;

class ReleaseListener final : public pqxx::notification_receiver {
  public:
    ReleaseListener(pqxx::connection& c, const std::string& channel, std::string cluster,
                    DbWorker::Sink& sink)
        : pqxx::notification_receiver(c, channel), prefix_(cluster + ":released:"), sink_(sink) {}
    void operator()(const std::string& payload, int) override {
        if (payload.rfind(prefix_, 0) == 0)
            sink_(core::ev::lease_hint{});
    }

  private:
    std::string prefix_;
    DbWorker::Sink& sink_;
};
}  // namespace

struct DbWorker::Impl {
    LeaseSql lease;
    StateSql state;
    std::unique_ptr<pqxx::connection> conn;
    std::unique_ptr<ReleaseListener> listener;
    bool was_connected{false};
    bool reported_down{false};
    Duration backoff{100};
    TimePoint next_connect{};
};

DbWorker::DbWorker(WorkerSettings s, Sink sink)
    : s_(std::move(s)),
      sink_(std::move(sink)),
      impl_(std::make_unique<Impl>(Impl{LeaseSql(s_.schema, s_.cluster, s_.node_id),
                                        StateSql(s_.schema, s_.cluster, s_.node_id), nullptr,
                                        nullptr})) {
    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0)
        throw std::runtime_error("eventfd failed");
}

DbWorker::~DbWorker() {
    stop(Duration{0});
    if (wake_fd_ >= 0)
        close(wake_fd_);
}

void DbWorker::start() {
    thread_ = std::thread([this] { run(); });
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
    {
        std::lock_guard lk(mu_);
        for (auto& op : lease_ops_)
            if (auto* r = std::get_if<Renew>(&op); r && r->term == term)
                return;
        lease_ops_.emplace_back(Renew{term});
    }
    wake();
}

void DbWorker::release(std::int64_t term) {
    {
        std::lock_guard lk(mu_);
        lease_ops_.emplace_back(Release{term});
    }
    wake();
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

std::uint64_t DbWorker::events_dropped() const {
    std::lock_guard lk(mu_);
    return dropped_;
}

void DbWorker::lost(const std::string& what) {
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
        {
            std::lock_guard lk(mu_);
            if (incarnation_ == 0)
                incarnation_ = inc;
        }
        impl_->listener = std::make_unique<ReleaseListener>(*impl_->conn, impl_->lease.channel(),
                                                            s_.cluster, sink_);
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
            else if constexpr (std::is_same_v<T, Renew>)
                sink_(core::ev::db_failure{core::ev::db_op::renew, o.term, what});
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
                const auto r = impl_->lease.acquire(c, s_.ttl, o.min_term);
                sink_(core::ev::acquire_result{r.won, r.term, r.holder, r.remaining, sent});
            } else if constexpr (std::is_same_v<T, Renew>) {
                const bool ok = impl_->lease.renew(c, o.term, s_.ttl);
                sink_(core::ev::renew_result{ok, o.term, sent});
            } else {
                const bool ok = impl_->lease.release(c, o.term);
                sink_(core::ev::release_result{o.term, ok});
            }
        },
        op);
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
        bool stop_now = false;
        {
            std::lock_guard lk(mu_);
            const bool idle = lease_ops_.empty() && !report_ && records_.empty();
            if (stopping_ && (idle || boot_clock::now() >= drain_until_))
                stop_now = true;
            if (!lease_ops_.empty()) {
                op = std::move(lease_ops_.front());
                lease_ops_.pop_front();
            } else if (report_) {
                report = std::move(report_);
                report_.reset();
            } else if (!records_.empty()) {
                rec = std::move(records_.front());
                records_.pop_front();
            }
        }
        if (stop_now)
            return;
        if (!op && !report && !rec) {
            wait_for_work(impl_->conn ? Duration{60000} : Duration{200});
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
            if (op)
                execute(*op);
            if (report)
                impl_->state.publish(*impl_->conn, *report);
            if (rec)
                impl_->state.record(*impl_->conn, rec->kind, rec->detail, rec->term);
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
