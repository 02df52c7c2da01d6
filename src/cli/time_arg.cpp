#include "af/cli/time_arg.hpp"

#include <cctype>
#include <pqxx/pqxx>

// Durations are scanned here (a small grammar; GCC 12's <regex> trips -Wmaybe-uninitialized
// under the sanitizer build); instants are read by PostgreSQL, whose clock judges them anyway.
namespace af::cli {

namespace {

bool digit(char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
}

}  // namespace

std::int64_t parse_duration_ms(const std::string& option, const std::string& text) {
    std::size_t i = text.size() > 0 && text[0] == '+' ? 1 : 0;
    const std::size_t first = i;
    std::int64_t n = 0;
    while (i < text.size() && digit(text[i]) && i - first < 9)
        n = n * 10 + (text[i++] - '0');
    const std::string unit = text.substr(i);
    const std::int64_t scale = unit == "ms"  ? 1
                               : unit == "s" ? 1000
                               : unit == "m" ? 60'000
                               : unit == "h" ? 3'600'000
                               : unit == "d" ? 86'400'000
                                             : 0;
    if (i == first || scale == 0)
        throw TimeArgError(
            option + " needs a duration with a unit (500ms, 30s, 15m, 2h, 1d), got '" + text + "'");
    if (n <= 0)
        throw TimeArgError(option + " must be longer than zero, got '" + text + "'");
    return n * scale;
}

AtTime parse_at(const std::string& option, const std::string& text) {
    if (!text.empty() && text[0] == '+')
        return {parse_duration_ms(option, text), std::nullopt};
    // An instant: PostgreSQL reads it (timestamp_on_db), one grammar for the CLI and the table.
    return {std::nullopt, text};
}

std::string timestamp_on_db(pqxx::connection& conn, const std::string& option,
                            const std::string& text) {
    try {
        pqxx::work tx(conn);
        // Read under two session time zones 5:45 apart: an instant with its own offset is the
        // same under both; one without would depend on whoever's session reads it.
        tx.exec("SET LOCAL TimeZone = 'UTC'");
        const auto utc = tx.exec_params(
            "SELECT to_char($1::timestamptz, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
            " isfinite($1::timestamptz), extract(epoch FROM $1::timestamptz)::text",
            text);
        tx.exec("SET LOCAL TimeZone = 'Asia/Kathmandu'");
        const auto other = tx.exec_params("SELECT extract(epoch FROM $1::timestamptz)::text", text);
        tx.commit();
        if (!utc[0][1].as<bool>())
            throw TimeArgError(option + " '" + text + "' is not a finite time");
        if (utc[0][2].as<std::string>() != other[0][0].as<std::string>())
            throw TimeArgError(option + " '" + text +
                               "' has no UTC offset; add Z (UTC) or one like +01:00");
        return utc[0][0].as<std::string>();
    } catch (const pqxx::data_exception& e) {
        std::string why = e.what();
        while (!why.empty() && (why.back() == '\n' || why.back() == ' '))
            why.pop_back();
        if (const auto nl = why.find('\n'); nl != std::string::npos)
            why = why.substr(0, nl);
        throw TimeArgError(option + " '" + text + "' is not a valid time: " + why + " (SQL state " +
                           e.sqlstate() +
                           "); write it like 2026-12-01T02:00:00Z, or a delay like +30s");
    }
}

}  // namespace af::cli
