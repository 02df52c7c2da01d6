#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/connection>
#include <stdexcept>
#include <string>

namespace af::cli {

/// A command-line time argument that does not parse; what() says what was expected.
struct TimeArgError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

/// "90s", "+30s", "15m", "2h", "1d", "500ms" -> milliseconds (> 0). A unit is required: a bare
/// number is ambiguous. Throws TimeArgError naming `option`.
std::int64_t parse_duration_ms(const std::string& option, const std::string& text);

/// When a scheduled switchover fires: either `in_ms` from now on the database clock ("+30s")
/// or an ISO-8601 instant with an explicit UTC offset ("2026-12-01T02:00:00Z",
/// "2026-12-01 03:00:00+01:00"), which the database converts.
struct AtTime {
    std::optional<std::int64_t> in_ms;
    std::optional<std::string> iso;
};

/// Throws TimeArgError naming `option` for a bad delay; an instant is returned as given, for
/// timestamp_on_db.
AtTime parse_at(const std::string& option, const std::string& text);
/// An instant as PostgreSQL reads it (`$1::timestamptz`), in UTC ("2026-12-01T02:00:00.000000Z").
/// Throws TimeArgError naming `option` when the database refuses it (2026-02-31: the SQL
/// state says why), when it has no explicit UTC offset, or when it is not finite.
std::string timestamp_on_db(pqxx::connection& conn, const std::string& option,
                            const std::string& text);

}  // namespace af::cli
