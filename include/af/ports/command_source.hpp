#pragma once

#include <cstdint>
#include <string>

#include "af/ports/event_sink.hpp"

namespace af::ports {

/// Operator commands (switchover, terminate): they arrive as core events through the sink
/// (ev::switchover, ev::process_terminate) and are marked done with the outcome in words.
class CommandSource {
  public:
    virtual ~CommandSource() = default;
    virtual void listen(EventSink sink) = 0;
    /// Commands are for the active node: only while active does the source look for them.
    virtual void set_active(bool active) = 0;
    virtual void finish(std::int64_t id, std::string result) = 0;
};

}  // namespace af::ports
