#pragma once

#include <string>

#include "af/config/config.hpp"

namespace af::daemon {

/// Runs the daemon in production: one io_context, the adapters over PostgreSQL, fork/exec and
/// the boot clock, signals, heartbeats, metrics and hooks as configured. Returns when the
/// daemon has stopped and the event loop has run out of work; the process exit code.
int run_daemon(config::Config cfg, std::string config_path);

}  // namespace af::daemon
