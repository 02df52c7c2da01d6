#pragma once

#include <sys/types.h>

#include <cstdint>
#include <set>

#include "af/util/boot_clock.hpp"

namespace af::ports {

/// The guard: a separate process that kills the process groups and releases the lease if the
/// daemon dies, or if the deadline passes without being extended. Nothing of it comes back.
class Guard {
  public:
    virtual ~Guard() = default;
    virtual void start() = 0;
    virtual void arm(std::int64_t term, TimePoint deadline) = 0;
    virtual void disarm() = 0;
    virtual void set_groups(std::set<pid_t> groups) = 0;
    /// After a disarm, at exit: the guard ends without killing or releasing anything.
    virtual void shutdown() = 0;
};

}  // namespace af::ports
