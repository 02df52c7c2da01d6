#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "af/ports/guard.hpp"
#include "af/util/boot_clock.hpp"

namespace af::guard {

/// The daemon's end of the guard: starts the guard process and keeps it told of the lease
/// deadline and the process groups. Writes never block (a stopped guard must not stop us).
class GuardLink : public ports::Guard {
  public:
    explicit GuardLink(std::string conf_json);
    ~GuardLink() override;
    GuardLink(const GuardLink&) = delete;
    GuardLink& operator=(const GuardLink&) = delete;

    void start() override;
    void arm(std::int64_t term, TimePoint deadline) override;
    void disarm() override;
    void set_groups(std::set<pid_t> groups) override;
    /// Closes the pipe after a disarm: the guard exits without killing or releasing anything.
    void shutdown() override;

    pid_t pid() const { return pid_; }
    /// A reaped child; if it was the guard, a new one is started and told everything again.
    bool on_reaped(pid_t pid);

  private:
    void send(const std::string& line);

    std::string conf_json_;
    pid_t pid_{0};
    int fd_{-1};
    std::optional<std::int64_t> term_;
    TimePoint deadline_{};
    std::set<pid_t> groups_;
};

}  // namespace af::guard
