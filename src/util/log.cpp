#include "af/util/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace af {

void setup_logging(const std::string& level, const std::string& format, const std::string& node) {
    auto logger = spdlog::stderr_logger_mt("airflow-failover");
    if (format == "json")
        logger->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","node":")" + node +
                            R"(","msg":"%v"})");
    else
        logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [" + node + "] %v");
    logger->set_level(spdlog::level::from_str(level));
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
}

}  // namespace af
