#pragma once

#include <pqxx/connection>
#include <string>
#include <vector>

#include "af/history/term_history.hpp"

namespace af::db {

/// The events of the cluster's last `terms` terms (every event from the oldest of those terms'
/// became_active on), in id order: what `history` turns into terms.
std::vector<history::Event> read_history_events(pqxx::connection& c, const std::string& schema,
                                                const std::string& cluster, int terms);

}  // namespace af::db
