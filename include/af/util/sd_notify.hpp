#pragma once

#include <chrono>
#include <string>

namespace af::sd {

/// systemd's notification protocol through libsystemd (sd_notify(3)). Every call is a no-op
/// when the daemon was not started by systemd (no NOTIFY_SOCKET), so the same binary runs in a
/// terminal, under tests and as a Type=notify service.
///
/// The environment is left in place (unset_environment = 0): it is read at every call, and
/// changing the environment while the database thread runs would race with libpq's getenv().
/// Managed processes therefore inherit NOTIFY_SOCKET; the unit keeps NotifyAccess=main, so
/// systemd ignores anything they send, and WATCHDOG_PID names only the daemon.
bool notify(const std::string& state);

/// The watchdog interval systemd expects pings within (WatchdogSec=), or zero when the
/// watchdog is off or meant for another process (WATCHDOG_PID).
std::chrono::microseconds watchdog_interval();

/// "MONOTONIC_USEC=<CLOCK_MONOTONIC now>", which systemd wants next to RELOADING=1.
std::string monotonic_usec_field();

}  // namespace af::sd
