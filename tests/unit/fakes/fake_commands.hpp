#pragma once

// The CommandSource port in memory: the test sends operator commands; like the real source,
// only a node that said it is active looks for them (a command to a standby waits).
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "af/ports/command_source.hpp"
#include "sim_clock.hpp"

namespace af::fakes {

class FakeCommands : public ports::CommandSource {
  public:
    explicit FakeCommands(SimClock& c) : clock_(c) {}
    void listen(ports::EventSink sink) override { sink_ = std::move(sink); }
    void set_active(bool active) override {
        active_ = active;
        if (active_ && !waiting_.empty())  // later, never inside the daemon's step
            clock_.post(Duration{0}, [this] { deliver(); });
    }
    void finish(std::int64_t id, std::string result) override {
        done.emplace_back(id, std::move(result));
    }

    std::int64_t send(core::Event command) {
        waiting_.push_back(std::move(command));
        clock_.post(Duration{1}, [this] { deliver(); });
        return next_id_++;
    }
    std::int64_t switchover(std::optional<std::string> target = std::nullopt) {
        return send(core::ev::switchover{std::move(target), "test", next_id_});
    }
    std::int64_t terminate(std::string name) {
        return send(core::ev::process_terminate{std::move(name), "test", next_id_});
    }
    std::vector<std::pair<std::int64_t, std::string>> done;

  private:
    void deliver() {
        while (active_ && sink_ && !waiting_.empty()) {
            core::Event e = std::move(waiting_.front());
            waiting_.pop_front();
            sink_(e);
        }
    }
    SimClock& clock_;
    ports::EventSink sink_;
    bool active_{false};
    std::deque<core::Event> waiting_;
    std::int64_t next_id_{1};
};

}  // namespace af::fakes
