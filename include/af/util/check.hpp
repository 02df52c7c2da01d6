#pragma once

#include <string>

/// The error policy's stop for impossible states (docs/design.md, "Errors"): a state that only a
/// bug in this program can produce. It logs the condition, the place and `what` (the values that
/// tell the state) at critical level, flushes, and aborts: the guard sees its pipe close and
/// kills the process groups, systemd restarts the daemon, and a core dump is left where enabled.
/// Anything that comes from outside (the database, the network, files, the config, a child
/// process) is not checked with this: it is an expected failure, returned as a value or fed to
/// the core as an event.
#define AF_CHECK(cond, what)                                       \
    do {                                                           \
        if (!(cond)) [[unlikely]]                                  \
            ::af::check_failed(#cond, __FILE__, __LINE__, (what)); \
    } while (false)

namespace af {

[[noreturn]] void check_failed(const char* condition, const char* file, int line,
                               const std::string& what);

}  // namespace af
