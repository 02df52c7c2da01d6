#include "af/util/check.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

namespace af {

void check_failed(const char* condition, const char* file, int line, const std::string& what) {
    // stderr first and unbuffered: the logger itself may be what is broken.
    std::fprintf(stderr, "airflow-failover: internal error at %s:%d: %s does not hold (%s)\n", file,
                 line, condition, what.c_str());
    if (auto logger = spdlog::default_logger_raw()) {
        logger->critical("internal error at {}:{}: {} does not hold ({}); stopping", file, line,
                         condition, what);
        logger->flush();
    }
    std::abort();
}

}  // namespace af
