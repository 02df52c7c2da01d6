#pragma once

#include <pqxx/connection>
#include <string>

namespace af::db {

/// The statement that (re)creates the events table's append-only rule with its one exception,
/// `events prune` (migration 8). init-db runs it as the administrator who owns the rule.
std::string events_guard_sql(const std::string& schema);
/// The newest schema version this build knows.
int latest_schema_version();
/// The version `schema` is at (0 when it has no migrations table yet).
int schema_version(pqxx::connection& c, const std::string& schema);

/// Applies missing migrations to `schema` in one transaction, serialized by an advisory lock so
/// that several daemons starting at once are safe. Returns the number applied. Refuses (throws)
/// when the database is at a newer version than this build knows.
int migrate(pqxx::connection& c, const std::string& schema);

}  // namespace af::db
