#pragma once

#include <pqxx/connection>
#include <string>
#include <vector>

#include "af/history/term_history.hpp"

namespace af::db {

/// The schema step that adds `term_history(cluster, terms)`: the one statement of how the
/// lease's terms ended and how long each hand-over took ("{s}" stands for the quoted schema).
const char* term_history_migration();

/// The cluster's last `terms` terms, oldest first, from the schema's term_history().
std::vector<history::Term> read_term_history(pqxx::connection& c, const std::string& schema,
                                             const std::string& cluster, int terms);

}  // namespace af::db
