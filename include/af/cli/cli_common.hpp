#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <pqxx/connection>
#include <string>

#include "af/config/config.hpp"
#include "af/db/scope.hpp"
#include "af/util/boot_clock.hpp"

namespace af::cli {

/// Who an operator command comes from, as commands and events record it:
/// "cli:UNIXUSER@HOST as DBROLE". The Unix user is the process's real uid (not $USER, which
/// anyone sets); the database role is the session's, as the server reports it.
std::string requester(pqxx::connection& conn);

/// Statement timeouts of the CLI's own connections: an operator's reads and requests (status,
/// history, pause, switchover) answer within seconds or say why; an administrator's changes
/// (init-db, grants, force-release) may wait for locks held by running daemons.
inline constexpr Duration k_operator_statement_timeout{5000};
inline constexpr Duration k_admin_statement_timeout{30000};

/// The schema and cluster every statement of a CLI command works on.
inline db::Scope db_scope(const config::Config& c) {
    return {c.database.schema, c.cluster};
}

/// The connection of an operator command (status, history, pause, resume, switchover): it
/// runs no migration (an operator's role may create nothing, and upgrading is init-db's or a
/// daemon's job) and refuses a schema older than this build with a message saying so.
std::unique_ptr<pqxx::connection> open_for_operator(const config::Config& c);
/// Throws unless the schema is at this build's version (no migration: see open_for_operator).
void require_schema(pqxx::connection& conn, const config::Config& c);
/// An exception's message for the operator, with the SQL state when the database raised it.
std::string error_text(const std::exception& e);

/// The config of a CLI command. `operator_only`: a file with `cluster` and `database` alone (an
/// operator's, with the operator role's conninfo) is accepted too.
config::Config load_cli_config(const std::string& path, bool operator_only);

}  // namespace af::cli
