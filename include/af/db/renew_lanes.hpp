#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "af/core/election_event.hpp"
#include "af/db/renew_timing.hpp"
#include "af/db/scope.hpp"
#include "af/util/boot_clock.hpp"

namespace af::db {

/// Renewals on three connections of their own, each on its own thread. A renewal stuck in TCP
/// retransmission on one connection (a lost segment costs hundreds of milliseconds) does not
/// hold up the next one, which goes out on another: no head-of-line blocking. A renewal still
/// unanswered after timing.hedge_after is copied onto an idle lane (a hedge), so one lost
/// segment does not cost a whole renewal interval; the first confirmation wins, each copy
/// reporting its own send time. Connections open at the first renewal, so standbys hold none.
///
/// Each lane is a ConnectionWorker like the main connection (its own thread, job queue and
/// reconnect backoff), its queue holding the renewal to send and, behind it, the time to look
/// for a renewal worth copying. Which lane gets what is
/// the pure LaneSchedule, under one lock.
class RenewLanes {
  public:
    using Sink = std::function<void(core::Event)>;
    struct Settings {
        std::string conninfo;
        Scope scope;
        std::string node_id;
        Duration connect_timeout{};
        core::LeaseTimings lease;
        RenewTiming timing{renew_timing(lease)};
    };
    static constexpr std::size_t k_lanes = 3;

    /// `statements` counts the renewals sent (shared with DbWorker's count).
    RenewLanes(Settings s, Sink sink, std::atomic<std::uint64_t>& statements);
    ~RenewLanes();
    RenewLanes(const RenewLanes&) = delete;
    RenewLanes& operator=(const RenewLanes&) = delete;

    void start();
    void stop();
    /// Sends a renewal on an idle lane. When every lane is busy it is dropped: the core sends
    /// another once the earlier one is overdue.
    void renew(std::int64_t term);

  private:
    struct Impl;  ///< the lanes, their connections and threads, the schedule (renew_lanes.cpp)
    std::unique_ptr<Impl> impl_;
};

}  // namespace af::db
