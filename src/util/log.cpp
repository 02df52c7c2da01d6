#include "af/util/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>

namespace af {

namespace {

/// %* in a pattern: the message, escaped as the inside of a JSON string (quotes, backslashes
/// and control characters), so `log.format: json` gives one valid JSON object per line
/// whatever the message holds (SQL errors with quotes, paths, multi-line libpq messages).
class json_escaped_message final : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        static constexpr char hex[] = "0123456789abcdef";
        for (const char ch : msg.payload) {
            const auto c = static_cast<unsigned char>(ch);
            switch (c) {
                case '"':
                    dest.append(std::string_view("\\\""));
                    break;
                case '\\':
                    dest.append(std::string_view("\\\\"));
                    break;
                case '\n':
                    dest.append(std::string_view("\\n"));
                    break;
                case '\r':
                    dest.append(std::string_view("\\r"));
                    break;
                case '\t':
                    dest.append(std::string_view("\\t"));
                    break;
                default:
                    if (c < 0x20 || c == 0x7f) {
                        const char esc[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
                        dest.append(esc, esc + sizeof esc);
                    } else {
                        dest.push_back(ch);
                    }
            }
        }
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<json_escaped_message>();
    }
};

}  // namespace

void setup_logging(const std::string& level, const std::string& format, const std::string& node) {
    auto logger = spdlog::stderr_logger_mt("airflow-failover");
    if (format == "json") {
        // node is a checked name ([A-Za-z0-9_.-]), safe inside a JSON string as it is.
        auto f = std::make_unique<spdlog::pattern_formatter>();
        f->add_flag<json_escaped_message>('*').set_pattern(
            R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","node":")" + node +
            R"(","msg":"%*"})");
        logger->set_formatter(std::move(f));
    } else {
        logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [" + node + "] %v");
    }
    logger->set_level(spdlog::level::from_str(level));
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
}

}  // namespace af
