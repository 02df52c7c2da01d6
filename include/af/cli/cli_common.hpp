#pragma once

#include <cstdint>
#include <string>

#include "af/config/config.hpp"

namespace af::cli {

/// Who an operator command comes from, as commands and events record it: "cli:USER@HOST".
std::string requester();

/// A node row not refreshed for this long belongs to a dead or cut-off daemon.
std::int64_t stale_after_ms(const config::Config& c);

}  // namespace af::cli
