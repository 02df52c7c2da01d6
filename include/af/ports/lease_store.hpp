#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "af/ports/event_sink.hpp"
#include "af/util/boot_clock.hpp"

namespace af::ports {

/// What a node publishes about itself (the nodes table row): visibility only.
struct NodeRow {
    std::string role;
    std::string state;  ///< "running" or "idle"
    std::int64_t term{0};
    std::string processes_json{"[]"};
    std::string peers_json{"{}"};
    std::string counters_json{"{}"};
    int priority{100};
};

/// The store's own counters, for the node row and /metrics.
struct StoreCounters {
    bool connected{false};
    std::uint64_t statements{0};
    std::uint64_t events_dropped{0};
    std::int64_t incarnation{0};  ///< given at the latest registration (0 until connected)
    std::map<std::string, std::int64_t> peer_incarnations;
};

/// The lease (term = fencing token, compare-and-set on the database clock), the node row and
/// the events log. Every lease request is answered through the sink by exactly one event:
/// acquire_result, renew_result or release_result, or db_failure; a renewal may also stay
/// unanswered for a long time (a hung connection), which the core handles by its deadline.
/// The store also sends term_floor, lease_hint and paused as it learns them.
class LeaseStore {
  public:
    virtual ~LeaseStore() = default;
    virtual void start(EventSink sink) = 0;
    /// Finishes queued writes for at most `drain`, then stops; nothing reaches the sink after.
    virtual void stop(Duration drain) = 0;

    virtual void acquire(std::int64_t min_term) = 0;
    virtual void renew(std::int64_t term) = 0;
    virtual void release(std::int64_t term, std::string reserved_for) = 0;
    virtual void publish(NodeRow row) = 0;
    virtual void record(std::string kind, std::string detail, std::int64_t term) = 0;

    virtual StoreCounters counters() const = 0;
};

}  // namespace af::ports
