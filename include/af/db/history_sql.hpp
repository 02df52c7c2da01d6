#pragma once

#include <pqxx/connection>
#include <string>
#include <utility>
#include <vector>

#include "af/db/scope.hpp"
#include "af/history/term_history.hpp"

namespace af::db {

/// The schema step that adds `term_history(cluster, terms)`: the one statement of how the
/// lease's terms ended and how long each hand-over took ("{s}" stands for the quoted schema).
const char* term_history_migration();

class HistorySql {
  public:
    explicit HistorySql(Scope scope) : scope_(std::move(scope)) {}
    /// The cluster's last `terms` terms, oldest first, from the schema's term_history().
    std::vector<history::Term> read(pqxx::connection& c, int terms) const;

  private:
    Scope scope_;
};

}  // namespace af::db
