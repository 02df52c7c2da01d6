#include "af/cli/cli_common.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

namespace af::cli {

std::string requester() {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    const char* user = std::getenv("USER");
    return std::string("cli:") + (user ? user : std::to_string(getuid())) + "@" + host;
}

std::int64_t stale_after_ms(const config::Config& c) {
    return std::max<std::int64_t>(3 * c.status_interval.count(), c.lease.ttl.count());
}

}  // namespace af::cli
