#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace af::history {

/// One row of the events table, as `history` needs it.
struct Event {
    std::string node_id;
    std::string at;   ///< database time, ISO 8601, for display
    double at_ms{0};  ///< the same instant as epoch milliseconds, for arithmetic
    std::int64_t term{0};
    std::string kind;
    std::string detail;
};

/// One term of the lease: who held it, when, how it ended and how long the cluster was without
/// an active node before the next term began.
struct Term {
    std::int64_t term{0};
    std::string holder;
    std::string start;
    std::optional<std::string> end;  ///< the recorded end, if the holder (or its guard) wrote one
    /// released, daemon died, switchover, terminate, crash loop, fenced, expired, active
    std::string ended;
    std::string detail;            ///< the ending event's detail
    std::optional<double> gap_ms;  ///< from the recorded end to the next term's start
    /// No end was recorded (host lost): the gap is measured from the holder's last event, an
    /// upper bound (the lease expired somewhere in between).
    bool gap_is_upper_bound{false};
};

/// The terms found in `events` (in id order), oldest first. Pure: the unit tests feed it rows.
std::vector<Term> term_history(const std::vector<Event>& events);

nlohmann::json to_json(const Term& t);

}  // namespace af::history
