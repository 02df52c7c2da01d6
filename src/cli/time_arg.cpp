#include "af/cli/time_arg.hpp"

#include <regex>

namespace af::cli {

std::int64_t parse_duration_ms(const std::string& option, const std::string& text) {
    static const std::regex re(R"(^\+?([0-9]{1,9})(ms|s|m|h|d)$)");
    std::smatch m;
    if (!std::regex_match(text, m, re))
        throw TimeArgError(
            option + " needs a duration with a unit (500ms, 30s, 15m, 2h, 1d), got '" + text + "'");
    const std::int64_t n = std::stoll(m[1].str());
    const std::string unit = m[2].str();
    const std::int64_t scale = unit == "ms"  ? 1
                               : unit == "s" ? 1000
                               : unit == "m" ? 60'000
                               : unit == "h" ? 3'600'000
                                             : 86'400'000;
    if (n <= 0)
        throw TimeArgError(option + " must be longer than zero, got '" + text + "'");
    return n * scale;
}

AtTime parse_at(const std::string& option, const std::string& text) {
    if (!text.empty() && text[0] == '+')
        return {parse_duration_ms(option, text), std::nullopt};
    // Date, time (seconds and fractions optional), then an offset: without one the instant
    // would depend on the database session's time zone.
    static const std::regex iso(
        R"(^([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2})(:([0-9]{2})(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)$)");
    std::smatch m;
    if (!std::regex_match(text, m, iso)) {
        static const std::regex no_offset(
            R"(^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?$)");
        if (std::regex_match(text, no_offset))
            throw TimeArgError(option + " '" + text +
                               "' has no UTC offset; add Z (UTC) or one like +01:00");
        throw TimeArgError(option +
                           " needs an ISO-8601 time with an offset "
                           "(2026-12-01T02:00:00Z) or a delay (+30s, +15m), got '" +
                           text + "'");
    }
    auto num = [&](int i) { return std::stoi(m[static_cast<std::size_t>(i)].str()); };
    const int month = num(2), day = num(3), hour = num(4), minute = num(5);
    const int second = m[7].matched ? num(7) : 0;
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59)
        throw TimeArgError(option + " '" + text + "' is not a valid date and time");
    return {std::nullopt, text};
}

}  // namespace af::cli
