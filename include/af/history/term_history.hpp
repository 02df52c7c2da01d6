#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace af::history {

/// One term of the lease: who held it, when, how it ended and how long the cluster was without
/// an active node before the next term began. The rule lives in the schema (term_history(),
/// src/db/sql/history_sql.cpp); this is the row `history` prints.
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

nlohmann::json to_json(const Term& t);

}  // namespace af::history
