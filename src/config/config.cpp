// The config's entry points: parse (the top level, then each section), load, and the core's
// view of it (Config::election()).
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <type_traits>

#include "config_parse.hpp"

namespace af::config {

using namespace detail;

// HealthConfig::kind() is the index of the alternative: the two orders must agree.
template <HealthKind k, class T>
constexpr bool k_alternative_is = std::is_same_v<
    std::variant_alternative_t<static_cast<std::size_t>(k), decltype(HealthConfig::check)>, T>;
static_assert(k_alternative_is<HealthKind::airflow_db, AirflowDbHealth> &&
              k_alternative_is<HealthKind::http, HttpHealth> &&
              k_alternative_is<HealthKind::command, CommandHealth>);

const char* to_string(HealthKind k) {
    switch (k) {
        case HealthKind::airflow_db:
            return "airflow-db";
        case HealthKind::http:
            return "http";
        case HealthKind::command:
            return "command";
    }
    return "?";
}

std::optional<HealthKind> parse_health_kind(const std::string& type) {
    for (HealthKind k : {HealthKind::airflow_db, HealthKind::http, HealthKind::command})
        if (type == to_string(k))
            return k;
    return std::nullopt;
}

Duration stale_after(const Config& c) {
    return std::max(3 * c.status_interval, c.lease.ttl);
}

core::ElectionConfig Config::election() const {
    core::ElectionConfig e;
    static_cast<core::LeaseTimings&>(e) = lease;
    static_cast<core::SupervisionPolicy&>(e) = supervision;
    static_cast<core::Candidacy&>(e) = *this;
    if (heartbeat)
        e.heartbeat = *heartbeat;  // its timings
    for (const auto& p : processes)
        e.processes.push_back({p.name, p.stop_timeout, p.warm_enabled(),
                               p.warm_enabled() ? p.warm->max_age : Duration{0}});
    if (airflow && airflow->takeover)
        e.takeover = airflow->takeover_timeout;
    if (hooks.pre_promote)
        e.pre_promote = hooks.pre_promote->timeout;
    e.role_change_hook = hooks.on_role_change.has_value();
    return e;
}

Config parse_config(const std::string& json_text) {
    json j;
    try {
        j = json::parse(json_text);
    } catch (const json::parse_error& e) {
        throw ConfigError("(file)", std::string("is not valid JSON: ") + e.what());
    }
    ObjectReader r(j, "");
    Config c;
    c.cluster = checked_name(r, "cluster");
    c.node_id = checked_name(r, "node_id");
    c.database = parse_database(r.require("database"));
    c.lease = parse_lease(r.find("lease"));
    c.supervision = parse_supervision(r.find("supervision"), c.lease);
    const json& procs = r.require("processes");
    if (!procs.is_array())
        throw ConfigError("processes", "must be an array");
    std::set<std::string> names;
    for (std::size_t i = 0; i < procs.size(); ++i) {
        c.processes.push_back(parse_process(procs[i], i, c.database.conninfo));
        if (!names.insert(c.processes.back().name).second)
            throw ConfigError("processes[" + std::to_string(i) + "].name",
                              "duplicates the name \"" + c.processes.back().name + "\"");
    }
    c.log = parse_log(r.find("log"));
    c.status_interval = r.millis("status_interval_ms", c.status_interval, 100, 60000);
    c.priority = static_cast<int>(r.integer("priority", c.priority, 0, 255));
    c.failback = r.boolean("failback", c.failback);
    c.nofailover = r.boolean("nofailover", c.nofailover);
    if (const json* f = r.find("fencing"))
        c.fence_roles = parse_fencing(*f, c.node_id);
    if (const json* hb = r.find("heartbeat"))
        c.heartbeat = parse_heartbeat(*hb, c.node_id, c.lease);
    if (const json* m = r.find("metrics"))
        c.metrics = parse_metrics(*m);
    c.airflow = parse_airflow(r.find("airflow"), c);
    // The airflow-db checks look for the hostname the takeover uses for this node.
    if (c.airflow)
        if (const auto it = c.airflow->hostnames.find(c.node_id); it != c.airflow->hostnames.end())
            for (auto& p : c.processes)
                if (p.health)
                    if (auto* db = std::get_if<AirflowDbHealth>(&p.health->check);
                        db && db->hostname.empty())
                        db->hostname = it->second;
    if (const json* h = r.find("hooks"))
        c.hooks = parse_hooks(*h);
    r.finish();
    if (c.failback && !c.heartbeat)
        throw ConfigError("failback", "needs a heartbeat section (it acts on what peers report)");
    return c;
}

Config load_config(const std::string& path) {
    errno = 0;
    std::ifstream in(path);
    if (!in)
        throw ConfigError(
            "(file)",
            "cannot read " + path + (errno != 0 ? ": " + std::string(std::strerror(errno)) : ""));
    std::stringstream ss;
    ss << in.rdbuf();
    try {
        return parse_config(ss.str());
    } catch (const ConfigError& e) {
        throw ConfigError(e.key(),
                          std::string(e.what()).substr(e.key().size() + 2) + " (in " + path + ")");
    }
}

}  // namespace af::config
