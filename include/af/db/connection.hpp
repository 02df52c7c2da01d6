#pragma once

#include <memory>
#include <pqxx/connection>
#include <string>

#include "af/util/boot_clock.hpp"

namespace af::db {

/// TCP settings for a connection (libpq's tcp_user_timeout and keepalives). Zero user_timeout:
/// the statement timeout (at least 500 ms). The defaults suit the main connection; the renewal
/// lanes pass shorter ones derived from the TTL (renew_timing.hpp).
struct TcpTuning {
    Duration user_timeout{0};
    int keepalive_idle_s{5};
    int keepalive_interval_s{1};
    int keepalive_count{3};
};

/// Opens a libpq connection for the daemon: the user's conninfo plus bounded timeouts (connect,
/// statements, dead peers) unless the user set them, so no call can block for minutes.
std::unique_ptr<pqxx::connection> open_connection(const std::string& conninfo,
                                                  Duration connect_timeout,
                                                  Duration statement_timeout,
                                                  const TcpTuning& tcp = {});

/// The conninfo with the daemon's defaults appended (exposed for tests and the guard).
std::string with_defaults(const std::string& conninfo, Duration connect_timeout,
                          Duration statement_timeout, const TcpTuning& tcp = {});

/// Quotes a schema name that config validation already restricted to [a-z_][a-z0-9_]*.
/// An object, not a function: an unqualified `quoted(s)` with a std::string argument would
/// otherwise also find std::quoted (<iomanip>) by argument-dependent lookup, which wins for a
/// non-const string and returns a stream manipulator instead of SQL.
struct QuoteIdentifier {
    std::string operator()(const std::string& identifier) const;
};
inline constexpr QuoteIdentifier quoted{};

}  // namespace af::db
