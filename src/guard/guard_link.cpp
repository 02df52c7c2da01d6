#include "af/guard/guard_link.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "af/guard/guard_protocol.hpp"
#include "af/proc/spawn.hpp"

namespace af::guard {

GuardLink::GuardLink(std::string conf_json) : conf_json_(std::move(conf_json)) {}

GuardLink::~GuardLink() {
    if (fd_ >= 0)
        close(fd_);
}

void GuardLink::start() {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        throw std::system_error(errno, std::generic_category(), "pipe2");
    proc::SpawnSpec spec;
    spec.argv = {"/proc/self/exe", "guard"};
    spec.die_with_parent = false;  // the whole point: it outlives us
    spec.pass_fd = p[0];
    // Our own program: it logs in as the daemon (PGPASSFILE...).
    spec.env = proc::ChildEnv::daemon_helper().policy();
    spec.keep_capabilities = true;  // CAP_KILL: it kills Airflow's groups if we die
    try {
        pid_ = proc::spawn(spec);
    } catch (...) {
        close(p[0]);
        close(p[1]);
        throw;
    }
    close(p[0]);
    if (fd_ >= 0)
        close(fd_);
    fd_ = p[1];
    fcntl(fd_, F_SETFL, O_NONBLOCK);
    send("conf " + conf_json_ + "\n");
    send(groups_line(groups_));
    if (term_)
        send(arm_line(*term_, deadline_));
    spdlog::debug("guard started (pid {})", pid_);
}

void GuardLink::send(const std::string& line) {
    if (fd_ < 0)
        return;
    const ssize_t n = write(fd_, line.data(), line.size());
    if (n != static_cast<ssize_t>(line.size()))
        spdlog::warn("guard pipe write failed ({}); the guard may be stopped or gone",
                     n < 0 ? strerror(errno) : "short write");
}

void GuardLink::arm(std::int64_t term, TimePoint deadline) {
    term_ = term;
    deadline_ = deadline;
    send(arm_line(term, deadline));
}

void GuardLink::disarm() {
    term_.reset();
    send("disarm\n");
}

void GuardLink::set_groups(std::set<pid_t> groups) {
    if (groups == groups_)
        return;
    groups_ = std::move(groups);
    send(groups_line(groups_));
}

void GuardLink::shutdown() {
    disarm();
    set_groups({});
    if (fd_ >= 0)
        close(fd_);
    fd_ = -1;
}

bool GuardLink::on_reaped(pid_t pid) {
    if (pid != pid_ || pid_ == 0)
        return false;
    pid_ = 0;
    if (fd_ < 0)
        return true;  // we shut it down
    spdlog::error("guard process ended unexpectedly; starting a new one");
    start();
    return true;
}

}  // namespace af::guard
