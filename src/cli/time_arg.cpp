#include "af/cli/time_arg.hpp"

#include <cctype>

// Hand-written scanners rather than <regex>: GCC 12's <regex> trips -Wmaybe-uninitialized under
// the sanitizer build (-Werror), and these grammars are small.
namespace af::cli {

namespace {

bool digit(char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
}

/// Reads exactly `n` digits at `i` into `out`; false if they are not there.
bool digits(const std::string& s, std::size_t& i, std::size_t n, int& out) {
    if (i + n > s.size())
        return false;
    out = 0;
    for (std::size_t k = 0; k < n; ++k) {
        if (!digit(s[i + k]))
            return false;
        out = out * 10 + (s[i + k] - '0');
    }
    i += n;
    return true;
}

bool expect(const std::string& s, std::size_t& i, char c) {
    if (i < s.size() && s[i] == c) {
        ++i;
        return true;
    }
    return false;
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
    const TimeArgError shape(option +
                             " needs an ISO-8601 time with an offset (2026-12-01T02:00:00Z) or a "
                             "delay (+30s, +15m), got '" +
                             text + "'");
    // YYYY-MM-DD[T ]HH:MM[:SS[.ffffff]] then the offset: Z, +HH, +HHMM or +HH:MM. Without an
    // offset the instant would depend on the database session's time zone.
    std::size_t i = 0;
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, ignored = 0;
    if (!digits(text, i, 4, year) || !expect(text, i, '-') || !digits(text, i, 2, month) ||
        !expect(text, i, '-') || !digits(text, i, 2, day) ||
        !(expect(text, i, 'T') || expect(text, i, ' ')) || !digits(text, i, 2, hour) ||
        !expect(text, i, ':') || !digits(text, i, 2, minute))
        throw shape;
    if (expect(text, i, ':')) {
        if (!digits(text, i, 2, second))
            throw shape;
        if (expect(text, i, '.')) {
            const std::size_t f = i;
            while (i < text.size() && digit(text[i]) && i - f < 6)
                ++i;
            if (i == f)
                throw shape;
        }
    }
    if (i == text.size())
        throw TimeArgError(option + " '" + text +
                           "' has no UTC offset; add Z (UTC) or one like +01:00");
    if (!expect(text, i, 'Z')) {
        if (!(expect(text, i, '+') || expect(text, i, '-')) || !digits(text, i, 2, ignored))
            throw shape;
        if (i < text.size()) {
            expect(text, i, ':');
            if (!digits(text, i, 2, ignored))
                throw shape;
        }
    }
    if (i != text.size())
        throw shape;
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59)
        throw TimeArgError(option + " '" + text + "' is not a valid date and time");
    return {std::nullopt, text};
}

}  // namespace af::cli
