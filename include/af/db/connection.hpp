#pragma once

#include <memory>
#include <pqxx/connection>
#include <string>

#include "af/util/boot_clock.hpp"

namespace af::db {

/// Opens a libpq connection for the daemon: the user's conninfo plus bounded timeouts (connect,
/// statements, dead peers) unless the user set them, so no call can block for minutes.
std::unique_ptr<pqxx::connection> open_connection(const std::string& conninfo,
                                                  Duration connect_timeout,
                                                  Duration statement_timeout);

/// The conninfo with the daemon's defaults appended (exposed for tests and the guard).
std::string with_defaults(const std::string& conninfo, Duration connect_timeout,
                          Duration statement_timeout);

/// Quotes a schema name that config validation already restricted to [a-z_][a-z0-9_]*.
std::string quoted(const std::string& identifier);

}  // namespace af::db
