// libFuzzer target for the heartbeat decoder and the replay tracker: whatever arrives on the
// UDP port must be rejected or accepted without a crash, a leak or undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <span>

#include "af/net/heartbeat_codec.hpp"
#include "af/net/peer_tracker.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const af::net::Key key(32, 0x5a);
    static const af::net::Key empty;
    const std::span<const std::uint8_t> in(data, size);
    // With the empty key the fuzzer can forge valid MACs, so it reaches the field parser too.
    for (const auto* k : {&key, &empty}) {
        const auto r = af::net::decode(in, *k, "prod");
        if (r.heartbeat) {
            af::net::PeerTracker t({"sched-a", "sched-b"});
            t.raise_floor("sched-a", 2);
            (void)t.admit(*r.heartbeat, af::TimePoint{});
            const auto again = af::net::encode(*r.heartbeat, *k);
            const auto back = af::net::decode(again, *k, "prod");
            if (!back.heartbeat || back.heartbeat->seq != r.heartbeat->seq)
                __builtin_trap();
        }
    }
    return 0;
}
