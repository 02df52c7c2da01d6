#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/connection>
#include <string>
#include <utility>

#include "af/db/scope.hpp"

namespace af::db {

/// The cluster's maintenance mode as the database has it (one row per cluster). A pause whose
/// expiry passed on the database clock no longer counts and is not returned.
struct Pause {
    std::string paused_by;
    std::string reason;
    bool stop_processes{false};
    std::string paused_at;                     ///< ISO-8601 UTC
    std::optional<std::string> expires_at;     ///< ISO-8601 UTC; none: until resume
    std::optional<std::int64_t> remaining_ms;  ///< until expiry on the database clock
    std::optional<std::string> for_holder;     ///< the live holder when it was set
    std::int64_t for_term{0};

    nlohmann::json to_json() const;
};

/// The live lease as a paused standby sees it: holder (empty if none), term, ms left.
struct LeaseGlance {
    std::string holder;
    std::int64_t term{0};
    std::int64_t remaining_ms{0};
};

class PauseSql {
  public:
    explicit PauseSql(Scope scope) : scope_(std::move(scope)) {}

    /// The cluster's live pause, if any.
    std::optional<Pause> read(pqxx::connection& c) const;
    /// Sets (or replaces) the pause; `expires_in_ms` none: until resume. Returns it as stored.
    Pause set(pqxx::connection& c, const std::string& by, const std::string& reason,
              bool stop_processes, std::optional<std::int64_t> expires_in_ms) const;
    /// Ends the pause; returns the one that was live (none: the cluster was not paused).
    std::optional<Pause> clear(pqxx::connection& c) const;
    LeaseGlance glance_lease(pqxx::connection& c) const;

  private:
    Scope scope_;
};

}  // namespace af::db
