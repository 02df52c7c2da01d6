#pragma once

#include <string>

namespace af {

/// Sets up the default spdlog logger on stderr: human text, or one JSON object per line.
void setup_logging(const std::string& level, const std::string& format, const std::string& node);

}  // namespace af
