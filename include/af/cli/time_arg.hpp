#pragma once

#include <cstdint>
#include <optional>
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

/// Throws TimeArgError naming `option`.
AtTime parse_at(const std::string& option, const std::string& text);

}  // namespace af::cli
