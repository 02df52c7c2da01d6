#pragma once

#include <functional>

#include "af/core/election_event.hpp"

namespace af::ports {

/// Where a port hands its results and news to the daemon: always called on the event loop
/// (an adapter whose work runs on another thread posts to the loop first), so the election
/// core stays single-threaded.
using EventSink = std::function<void(core::Event)>;

}  // namespace af::ports
