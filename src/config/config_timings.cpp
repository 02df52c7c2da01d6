// The timing sections of the config: the lease (and the intervals that follow its TTL),
// supervision, and peer heartbeats, with the rules that tie them together.
#include <algorithm>

#include "config_parse.hpp"

namespace af::config::detail {

LeaseConfig parse_lease(const json* j) {
    LeaseConfig l;
    if (!j)
        return l;
    ObjectReader r(*j, "lease");
    // Unset timings follow ttl_ms (core::lease_timings_for).
    const auto rule = core::lease_timings_for(r.millis("ttl_ms", l.ttl, 500, 600000));
    l.ttl = rule.ttl;
    l.renew_interval = r.millis("renew_interval_ms", rule.renew_interval, 50, 600000);
    l.fence_margin = r.millis("fence_margin_ms", rule.fence_margin, 50, 600000);
    l.poll_interval = r.millis("poll_interval_ms", l.renew_interval, 50, 600000);
    r.finish();
    // Patroni's rule in our terms: at least three renewals must fit in a TTL, so one lost
    // round trip never costs the lease.
    if (l.renew_interval * 3 > l.ttl)
        throw ConfigError("lease.renew_interval_ms", "must be at most a third of lease.ttl_ms (" +
                                                         std::to_string(l.ttl.count()) + "), got " +
                                                         std::to_string(l.renew_interval.count()));
    if (l.fence_margin * 3 > l.ttl)
        throw ConfigError("lease.fence_margin_ms", "must be at most a third of lease.ttl_ms (" +
                                                       std::to_string(l.ttl.count()) + "), got " +
                                                       std::to_string(l.fence_margin.count()));
    if (l.poll_interval > l.ttl)
        throw ConfigError("lease.poll_interval_ms", "must not exceed lease.ttl_ms (" +
                                                        std::to_string(l.ttl.count()) + "), got " +
                                                        std::to_string(l.poll_interval.count()));
    return l;
}

SupervisionConfig parse_supervision(const json* j, const LeaseConfig& lease) {
    SupervisionConfig s;
    s.handover_cooldown = core::handover_cooldown_for(lease.ttl);
    if (!j)
        return s;
    ObjectReader r(*j, "supervision");
    s.restart_backoff_initial =
        r.millis("restart_backoff_initial_ms", s.restart_backoff_initial, 10, 600000);
    s.restart_backoff_max = r.millis("restart_backoff_max_ms", s.restart_backoff_max, 10, 3600000);
    s.crash_loop_limit =
        static_cast<int>(r.integer("crash_loop_limit", s.crash_loop_limit, 1, 1000));
    s.crash_loop_window = r.millis("crash_loop_window_ms", s.crash_loop_window, 1000, 86400000);
    s.handover_cooldown = r.millis("handover_cooldown_ms", s.handover_cooldown, 0, 3600000);
    r.finish();
    if (s.restart_backoff_max < s.restart_backoff_initial)
        throw ConfigError("supervision.restart_backoff_max_ms",
                          "must not be below supervision.restart_backoff_initial_ms");
    return s;
}

HeartbeatConfig parse_heartbeat(const json& j, const std::string& self, const LeaseConfig& lease) {
    ObjectReader r(j, "heartbeat");
    HeartbeatConfig h;
    std::tie(h.listen_host, h.listen_port) = parse_endpoint("heartbeat.listen", r.string("listen"));
    const json& peers = r.require("peers");
    if (!peers.is_object() || peers.empty())
        throw ConfigError("heartbeat.peers", "must be a non-empty object of node_id: HOST:PORT");
    for (const auto& [node, addr] : peers.items()) {
        const std::string key = "heartbeat.peers." + node;
        if (!valid_name(node))
            throw ConfigError(key, "is not a valid node id");
        if (node == self)
            throw ConfigError(key, "is this node itself");
        if (!addr.is_string())
            throw ConfigError(key, std::string("must be a string, got ") + type_name(addr));
        h.peers[node] = parse_endpoint(key, addr.get<std::string>());
    }
    h.interval = r.millis("interval_ms", h.interval, 10, 10000);
    h.miss_count = static_cast<int>(r.integer("miss_count", h.miss_count, 1, 100));
    h.slow_poll = r.millis("slow_poll_ms", h.slow_poll, 50, 600000);
    h.insecure = r.boolean("insecure", false);
    if (r.find("secret_file"))
        h.secret_file = r.string("secret_file");
    r.finish();
    if (h.secret_file.empty() && !h.insecure)
        throw ConfigError("heartbeat.secret_file",
                          "is required (or set \"insecure\": true to run without authentication)");
    if (!h.secret_file.empty() && h.insecure)
        throw ConfigError("heartbeat.insecure", "cannot be true together with a secret_file");
    if (h.interval * h.miss_count >= lease.ttl)
        throw ConfigError("heartbeat.interval_ms",
                          "times heartbeat.miss_count must be below lease.ttl_ms (" +
                              std::to_string(lease.ttl.count()) + ")");
    return h;
}

}  // namespace af::config::detail
