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
#include "af/db/lane_schedule.hpp"
#include "af/db/lease_sql.hpp"
#include "af/db/renew_timing.hpp"
#include "af/util/boot_clock.hpp"

namespace af::db {

/// Renewals on three connections of their own, each on its own thread. A renewal stuck in TCP
/// retransmission on one connection (a lost segment costs hundreds of milliseconds) does not
/// hold up the next one, which goes out on another: no head-of-line blocking. A renewal still
/// unanswered after timing.hedge_after is copied onto an idle lane (a hedge), so one lost
/// segment does not cost a whole renewal interval; the first confirmation wins, each copy
/// reporting its own send time. Connections open at the first renewal, so standbys hold none.
class RenewLanes {
  public:
    using Sink = std::function<void(core::Event)>;
    struct Settings {
        std::string conninfo;
        Duration connect_timeout{2000};
        Duration ttl{3000};
        RenewTiming timing{renew_timing(Duration{3000}, Duration{500}, Duration{300})};
    };
    static constexpr std::size_t k_lanes = 3;

    RenewLanes(Settings s, LeaseSql lease, Sink sink, std::atomic<std::uint64_t>& statements);
    ~RenewLanes();
    RenewLanes(const RenewLanes&) = delete;
    RenewLanes& operator=(const RenewLanes&) = delete;

    void start();
    void stop();
    /// Sends a renewal on an idle lane. When every lane is busy it is dropped: the core sends
    /// another once the earlier one is overdue.
    void renew(std::int64_t term);

  private:
    struct Lane {
        std::size_t index{0};
        std::optional<std::int64_t> pending;
        std::unique_ptr<pqxx::connection> conn;
        TimePoint next_connect{};
        Duration backoff{100};
        std::thread thread;
    };
    void run(Lane& lane);
    /// Sends one renewal on the lane's connection. The result goes to the sink unless a sibling
    /// copy of the same renewal already decided (or is still out and will).
    void send(Lane& lane, std::int64_t term);
    void assign(const LaneSchedule::Send& s);

    Settings s_;
    LeaseSql lease_;
    Sink sink_;
    std::atomic<std::uint64_t>& statements_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_{false};
    LaneSchedule schedule_;
    std::array<Lane, k_lanes> lanes_;
};

}  // namespace af::db
