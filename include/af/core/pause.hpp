#pragma once

#include <string>

#include "af/core/election_event.hpp"

namespace af::core {

/// "PAUSED by cli:ops@host (deploy 3.3.2), processes stopped, until resume": how the
/// daemon's STATUS line, log and /healthz name maintenance mode.
std::string describe_pause(const ev::paused& p);

}  // namespace af::core
