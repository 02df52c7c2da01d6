#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/connection>
#include <string>
#include <thread>

#include "af/core/election_event.hpp"
#include "af/db/lease_sql.hpp"
#include "af/util/boot_clock.hpp"

namespace af::db {

/// Renewals on two connections of their own, each on its own thread. A renewal stuck in TCP
/// retransmission on one connection (a lost segment costs hundreds of milliseconds) does not
/// hold up the next one, which goes out on the other: no head-of-line blocking, so a lossy link
/// does not make the active fence itself needlessly. Connections open at the first renewal, so
/// standbys hold none.
class RenewLanes {
  public:
    using Sink = std::function<void(core::Event)>;
    struct Settings {
        std::string conninfo;
        Duration connect_timeout{2000};
        Duration statement_timeout{3000};
        Duration ttl{3000};
    };

    RenewLanes(Settings s, LeaseSql lease, Sink sink, std::atomic<std::uint64_t>& statements);
    ~RenewLanes();
    RenewLanes(const RenewLanes&) = delete;
    RenewLanes& operator=(const RenewLanes&) = delete;

    void start();
    void stop();
    /// Sends a renewal on an idle lane. When both are busy it is dropped: the core sends another
    /// once the earlier one is overdue.
    void renew(std::int64_t term);

  private:
    struct Lane {
        std::mutex mu;
        std::condition_variable cv;
        std::optional<std::int64_t> pending;
        bool busy{false};
        bool stop{false};
        std::unique_ptr<pqxx::connection> conn;
        TimePoint next_connect{};
        Duration backoff{100};
        std::thread thread;
    };
    void run(Lane& lane);

    Settings s_;
    LeaseSql lease_;
    Sink sink_;
    std::atomic<std::uint64_t>& statements_;
    std::array<Lane, 2> lanes_;
    std::atomic<unsigned> next_{0};
};

}  // namespace af::db
