#include "af/util/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
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

/// %& in a pattern: the sd-daemon priority prefix (<4> for a warning, ...) that journald reads
/// off the start of a line on a stream it collects (SyslogLevelPrefix=, on by default), so
/// `journalctl -p warning` finds the daemon's warnings.
class syslog_priority final : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        char p = '6';
        switch (msg.level) {
            case spdlog::level::trace:
            case spdlog::level::debug:
                p = '7';
                break;
            case spdlog::level::warn:
                p = '4';
                break;
            case spdlog::level::err:
                p = '3';
                break;
            case spdlog::level::critical:
                p = '2';
                break;
            default:
                break;
        }
        const char prefix[] = {'<', p, '>'};
        dest.append(prefix, prefix + sizeof prefix);
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<syslog_priority>();
    }
};

}  // namespace

bool stderr_is_journal() {
    // systemd sets JOURNAL_STREAM=device:inode of the stream it connected to stdout/stderr.
    // Compared with stderr itself, as sd_journal_stream_fd's documentation asks: a managed
    // process or a shell redirect that inherited the variable but not the stream gets plain
    // lines.
    const char* js = std::getenv("JOURNAL_STREAM");
    if (js == nullptr)
        return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2)
        return false;
    struct stat st {};
    if (fstat(2, &st) != 0)
        return false;
    return static_cast<unsigned long long>(st.st_dev) == dev &&
           static_cast<unsigned long long>(st.st_ino) == ino;
}

void setup_logging(const std::string& level, const std::string& format, const std::string& node) {
    auto logger = spdlog::stderr_logger_mt("airflow-failover");
    // Under journald: a priority prefix (journald strips it from the message) and no time
    // stamp of our own, the journal keeps one.
    const bool journal = stderr_is_journal();
    auto f = std::make_unique<spdlog::pattern_formatter>();
    f->add_flag<json_escaped_message>('*');
    f->add_flag<syslog_priority>('&');
    if (format == "json") {
        // node is a checked name ([A-Za-z0-9_.-]), safe inside a JSON string as it is.
        f->set_pattern(std::string(journal ? "%&" : "") +
                       R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","node":")" + node +
                       R"(","msg":"%*"})");
    } else {
        f->set_pattern(journal ? "%&%l [" + node + "] %v"
                               : "%Y-%m-%d %H:%M:%S.%e %^%l%$ [" + node + "] %v");
    }
    logger->set_formatter(std::move(f));
    logger->set_level(spdlog::level::from_str(level));
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
}

}  // namespace af
