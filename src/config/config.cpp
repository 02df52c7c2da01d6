#include "af/config/config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <tuple>

namespace af::config {

using json = nlohmann::json;

namespace {

const char* type_name(const json& j) {
    switch (j.type()) {
        case json::value_t::null:
            return "null";
        case json::value_t::object:
            return "an object";
        case json::value_t::array:
            return "an array";
        case json::value_t::string:
            return "a string";
        case json::value_t::boolean:
            return "a boolean";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
            return "an integer";
        case json::value_t::number_float:
            return "a number with a fraction";
        default:
            return "something else";
    }
}

/// Reads one JSON object strictly: every key must be known, every value of the right type.
class ObjectReader {
  public:
    ObjectReader(const json& j, std::string path) : j_(j), path_(std::move(path)) {
        if (!j_.is_object())
            throw ConfigError(name_or_root(), "must be an object");
    }

    std::string key(const std::string& k) const { return path_.empty() ? k : path_ + "." + k; }

    const json* find(const std::string& k) {
        seen_.insert(k);
        auto it = j_.find(k);
        return it == j_.end() ? nullptr : &*it;
    }

    const json& require(const std::string& k) {
        const json* v = find(k);
        if (!v)
            throw ConfigError(key(k), "is required but missing");
        return *v;
    }

    std::string string(const std::string& k, const std::optional<std::string>& dflt = {}) {
        const json* v = dflt ? find(k) : &require(k);
        if (!v)
            return *dflt;
        if (!v->is_string())
            throw ConfigError(key(k), std::string("must be a string, got ") + type_name(*v));
        return v->get<std::string>();
    }

    long long integer(const std::string& k, std::optional<long long> dflt, long long lo,
                      long long hi) {
        const json* v = dflt ? find(k) : &require(k);
        if (!v)
            return *dflt;
        if (!v->is_number_integer())
            throw ConfigError(key(k), std::string("must be an integer, got ") + type_name(*v));
        const auto n = v->get<long long>();
        if (n < lo || n > hi)
            throw ConfigError(key(k), "must be between " + std::to_string(lo) + " and " +
                                          std::to_string(hi) + ", got " + std::to_string(n));
        return n;
    }

    Duration millis(const std::string& k, std::optional<Duration> dflt, long long lo,
                    long long hi) {
        std::optional<long long> d;
        if (dflt)
            d = dflt->count();
        return Duration{integer(k, d, lo, hi)};
    }

    /// Call last: refuses keys that were never asked for (typos must not pass silently).
    void finish() const {
        for (const auto& [k, v] : j_.items())
            if (!seen_.count(k))
                throw ConfigError(key(k), "unknown key");
    }

  private:
    std::string name_or_root() const { return path_.empty() ? "(top level)" : path_; }
    const json& j_;
    std::string path_;
    std::set<std::string> seen_;
};

/// [A-Za-z0-9][A-Za-z0-9_.-]{0,62}: cluster, node and process names.
bool valid_name(const std::string& v) {
    if (v.empty() || v.size() > 63 || !std::isalnum(static_cast<unsigned char>(v[0])))
        return false;
    return std::all_of(v.begin(), v.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.' || ch == '-';
    });
}

/// [a-z_][a-z0-9_]{0,62}: a schema name that needs no quoting rules beyond double quotes.
bool valid_identifier(const std::string& v) {
    if (v.empty() || v.size() > 63 || std::isdigit(static_cast<unsigned char>(v[0])))
        return false;
    return std::all_of(v.begin(), v.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
    });
}

std::string checked_name(ObjectReader& r, const std::string& k) {
    std::string v = r.string(k);
    if (!valid_name(v))
        throw ConfigError(r.key(k),
                          "must be 1-63 characters of letters, digits, '_', '.', '-' starting "
                          "with a letter or digit, got \"" +
                              v + "\"");
    return v;
}

/// postgresql://user:secret@host/db carries a password in its userinfo part.
bool uri_has_password(const std::string& conninfo) {
    for (const char* scheme : {"postgresql://", "postgres://"}) {
        if (conninfo.rfind(scheme, 0) != 0)
            continue;
        const std::string rest = conninfo.substr(std::string(scheme).size());
        const auto at = rest.find('@');
        const auto end = rest.find_first_of("/?");
        if (at == std::string::npos || (end != std::string::npos && at > end))
            return false;
        return rest.substr(0, at).find(':') != std::string::npos;
    }
    return false;
}

DatabaseConfig parse_database(const json& j) {
    ObjectReader r(j, "database");
    DatabaseConfig d;
    d.conninfo = r.string("conninfo");
    if (d.conninfo.find("password") != std::string::npos || uri_has_password(d.conninfo))
        throw ConfigError("database.conninfo",
                          "must not contain a password; use PGPASSFILE or PGPASSWORD");
    d.schema = r.string("schema", d.schema);
    if (!valid_identifier(d.schema))
        throw ConfigError(
            "database.schema",
            "must be a lower-case SQL identifier ([a-z_][a-z0-9_]*), got \"" + d.schema + "\"");
    d.connect_timeout = r.millis("connect_timeout_ms", d.connect_timeout, 100, 60000);
    r.finish();
    return d;
}

LeaseConfig parse_lease(const json* j) {
    LeaseConfig l;
    if (!j)
        return l;
    ObjectReader r(*j, "lease");
    l.ttl = r.millis("ttl_ms", l.ttl, 500, 600000);
    // Unset timings follow ttl_ms (docs/design.md, "Timings from ttl_ms"): six renewals per
    // TTL, a tenth of it (at least 100 ms) as fence margin, and the standby polls as often.
    l.renew_interval = r.millis("renew_interval_ms", std::max(Duration{50}, l.ttl / 6), 50, 600000);
    l.fence_margin = r.millis("fence_margin_ms", std::max(Duration{100}, l.ttl / 10), 50, 600000);
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
    s.handover_cooldown = 2 * lease.ttl;
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

std::vector<std::string> string_array(ObjectReader& r, const std::string& k) {
    const json& a = r.require(k);
    if (!a.is_array() || a.empty())
        throw ConfigError(r.key(k), "must be a non-empty array of strings");
    std::vector<std::string> out;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (!a[i].is_string())
            throw ConfigError(r.key(k) + "[" + std::to_string(i) + "]",
                              std::string("must be a string, got ") + type_name(a[i]));
        out.push_back(a[i].get<std::string>());
    }
    return out;
}

HealthConfig parse_health(const json& j, const std::string& path, const std::string& conninfo) {
    ObjectReader r(j, path);
    HealthConfig h;
    h.type = r.string("type");
    h.interval = r.millis("interval_ms", h.interval, 100, 3600000);
    h.timeout = r.millis("timeout_ms", h.timeout, 50, 600000);
    h.failure_threshold =
        static_cast<int>(r.integer("failure_threshold", h.failure_threshold, 1, 1000));
    h.start_period = r.millis("start_period_ms", h.start_period, 0, 3600000);
    if (h.type == "airflow-db") {
        h.conninfo = r.string("conninfo", conninfo);
        if (h.conninfo.find("password") != std::string::npos || uri_has_password(h.conninfo))
            throw ConfigError(r.key("conninfo"),
                              "must not contain a password; use PGPASSFILE or PGPASSWORD");
        h.job_type = r.string("job_type", h.job_type);
        h.hostname = r.string("hostname", std::string());
        h.max_age = r.millis("max_age_ms", h.max_age, 100, 3600000);
    } else if (h.type == "http") {
        h.url = r.string("url");
        if (h.url.rfind("http://", 0) != 0)
            throw ConfigError(r.key("url"), "must be an http:// URL, got \"" + h.url + "\"");
    } else if (h.type == "command") {
        h.command = string_array(r, "command");
    } else {
        throw ConfigError(r.key("type"), "must be \"airflow-db\", \"http\" or \"command\", got \"" +
                                             h.type + "\"");
    }
    r.finish();
    if (h.timeout > h.interval)
        throw ConfigError(r.key("timeout_ms"), "must not exceed " + r.key("interval_ms"));
    return h;
}

WarmConfig parse_warm(const json& j, const std::string& path) {
    ObjectReader r(j, path);
    WarmConfig w;
    if (const json* v = r.find("enabled")) {
        if (!v->is_boolean())
            throw ConfigError(r.key("enabled"),
                              std::string("must be true or false, got ") + type_name(*v));
        w.enabled = v->get<bool>();
    }
    w.max_age = std::chrono::seconds(r.integer("max_age_s", 3600, 10, 7 * 86400));
    if (r.find("watch_paths")) {
        const json& a = *r.find("watch_paths");
        if (!a.is_array())
            throw ConfigError(r.key("watch_paths"), "must be an array of absolute paths");
        for (std::size_t i = 0; i < a.size(); ++i) {
            if (!a[i].is_string() || a[i].get<std::string>().rfind('/', 0) != 0)
                throw ConfigError(r.key("watch_paths") + "[" + std::to_string(i) + "]",
                                  "must be an absolute path");
            w.watch_paths.push_back(a[i].get<std::string>());
        }
    }
    r.finish();
    return w;
}

ProcessConfig parse_process(const json& j, std::size_t index, const std::string& conninfo) {
    const std::string path = "processes[" + std::to_string(index) + "]";
    ObjectReader r(j, path);
    ProcessConfig p;
    p.name = checked_name(r, "name");
    const json& cmd = r.require("command");
    if (!cmd.is_array() || cmd.empty())
        throw ConfigError(r.key("command"), "must be a non-empty array of strings");
    for (std::size_t i = 0; i < cmd.size(); ++i) {
        if (!cmd[i].is_string())
            throw ConfigError(r.key("command") + "[" + std::to_string(i) + "]",
                              std::string("must be a string, got ") + type_name(cmd[i]));
        p.command.push_back(cmd[i].get<std::string>());
    }
    if (const json* env = r.find("env")) {
        if (!env->is_object())
            throw ConfigError(r.key("env"), "must be an object of strings");
        for (const auto& [k, v] : env->items()) {
            if (!v.is_string())
                throw ConfigError(r.key("env") + "." + k,
                                  std::string("must be a string, got ") + type_name(v));
            if (k.rfind("AIRFLOW_FAILOVER_", 0) == 0)
                throw ConfigError(r.key("env") + "." + k,
                                  "is reserved: the daemon sets AIRFLOW_FAILOVER_* itself");
            p.env[k] = v.get<std::string>();
        }
    }
    if (r.find("inherit_env")) {
        const json& names = *r.find("inherit_env");
        if (!names.is_array())
            throw ConfigError(r.key("inherit_env"), "must be an array of variable names");
        for (std::size_t i = 0; i < names.size(); ++i) {
            const std::string key = r.key("inherit_env") + "[" + std::to_string(i) + "]";
            if (!names[i].is_string() || names[i].get<std::string>().empty() ||
                names[i].get<std::string>().find('=') != std::string::npos)
                throw ConfigError(key, "must be an environment variable name (no '=')");
            p.inherit_env.push_back(names[i].get<std::string>());
        }
    }
    for (const char* k : {"user", "group"}) {
        if (!r.find(k))
            continue;
        std::string v = r.string(k);
        if (v.empty() || v.find_first_of(" :/\n") != std::string::npos)
            throw ConfigError(r.key(k),
                              "must be a user or group name or number, got \"" + v + "\"");
        (std::string(k) == "user" ? p.user : p.group) = std::move(v);
    }
    if (p.group && !p.user)
        throw ConfigError(r.key("group"), "needs " + r.key("user") + " as well");
    if (r.find("cwd"))
        p.cwd = r.string("cwd");
    p.stop_timeout = r.millis("stop_timeout_ms", p.stop_timeout, 0, 3600000);
    if (const json* h = r.find("health"))
        p.health = parse_health(*h, r.key("health"), conninfo);
    if (const json* w = r.find("warm"))
        p.warm = parse_warm(*w, r.key("warm"));
    r.finish();
    return p;
}

std::pair<std::string, unsigned short> parse_endpoint(const std::string& key,
                                                      const std::string& text) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
        throw ConfigError(key, "must be HOST:PORT, got \"" + text + "\"");
    std::string host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    const std::string port_text = text.substr(colon + 1);
    if (port_text.find_first_not_of("0123456789") != std::string::npos || port_text.size() > 5)
        throw ConfigError(key, "has a bad port in \"" + text + "\"");
    const long port = std::stol(port_text);
    if (port < 1 || port > 65535)
        throw ConfigError(key, "port must be 1-65535, got " + port_text);
    return {host, static_cast<unsigned short>(port)};
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
    h.insecure = false;
    if (const json* v = r.find("insecure")) {
        if (!v->is_boolean())
            throw ConfigError("heartbeat.insecure",
                              std::string("must be true or false, got ") + type_name(*v));
        h.insecure = v->get<bool>();
    }
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

LogConfig parse_log(const json* j) {
    LogConfig l;
    if (!j)
        return l;
    ObjectReader r(*j, "log");
    l.level = r.string("level", l.level);
    static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error"};
    if (!levels.count(l.level))
        throw ConfigError(
            "log.level", "must be one of trace, debug, info, warn, error, got \"" + l.level + "\"");
    l.format = r.string("format", l.format);
    if (l.format != "text" && l.format != "json")
        throw ConfigError("log.format", "must be \"text\" or \"json\", got \"" + l.format + "\"");
    r.finish();
    return l;
}

bool valid_hostname(const std::string& h) {
    return !h.empty() && h.size() <= 255 && std::all_of(h.begin(), h.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_';
    });
}

AirflowConfig parse_airflow(const json& j, const Config& c) {
    ObjectReader r(j, "airflow");
    AirflowConfig a;
    a.conninfo = r.string("conninfo", c.database.conninfo);
    if (a.conninfo.find("password") != std::string::npos || uri_has_password(a.conninfo))
        throw ConfigError("airflow.conninfo",
                          "must not contain a password; use PGPASSFILE or PGPASSWORD");
    a.schema = r.string("schema", std::string());
    if (!a.schema.empty() && !valid_identifier(a.schema))
        throw ConfigError(
            "airflow.schema",
            "must be a lower-case SQL identifier ([a-z_][a-z0-9_]*), got \"" + a.schema + "\"");
    const json& hosts = r.require("hostnames");
    if (!hosts.is_object() || hosts.empty())
        throw ConfigError("airflow.hostnames",
                          "must be a non-empty object of node_id: the hostname Airflow records "
                          "for that node's jobs");
    for (const auto& [node, host] : hosts.items()) {
        const std::string key = "airflow.hostnames." + node;
        if (!valid_name(node))
            throw ConfigError(key, "is not a valid node id");
        if (!host.is_string() || !valid_hostname(host.get<std::string>()))
            throw ConfigError(key, "must be a hostname (letters, digits, '.', '-', '_'), got " +
                                       (host.is_string() ? "\"" + host.get<std::string>() + "\""
                                                         : std::string(type_name(host))));
        a.hostnames[node] = host.get<std::string>();
    }
    if (!a.hostnames.count(c.node_id))
        throw ConfigError("airflow.hostnames",
                          "must name the hostname of this node (" + c.node_id + ") too");
    // Default job types: those whose Airflow command runs under this daemon. A triggerer or
    // dag-processor started elsewhere (systemd on every node) may be alive with this very
    // hostname, and closing out a live job would make Airflow hand its work to another.
    a.job_types.clear();
    // A named pair, not a structured binding: clang 14 cannot capture bindings in lambdas.
    for (const auto& job : {std::pair<const char*, const char*>{"SchedulerJob", "scheduler"},
                            {"DagProcessorJob", "dag-processor"},
                            {"TriggererJob", "triggerer"}}) {
        const std::string sub = job.second;
        const bool managed =
            std::any_of(c.processes.begin(), c.processes.end(), [&](const auto& p) {
                return std::find(p.command.begin(), p.command.end(), sub) != p.command.end();
            });
        if (managed)
            a.job_types.emplace_back(job.first);
    }
    if (a.job_types.empty())
        a.job_types.emplace_back("SchedulerJob");
    if (const json* t = r.find("takeover")) {
        ObjectReader tr(*t, "airflow.takeover");
        if (const json* v = tr.find("enabled")) {
            if (!v->is_boolean())
                throw ConfigError("airflow.takeover.enabled",
                                  std::string("must be true or false, got ") + type_name(*v));
            a.takeover = v->get<bool>();
        }
        if (tr.find("job_types")) {
            static const std::set<std::string> known{"SchedulerJob", "DagProcessorJob",
                                                     "TriggererJob"};
            a.job_types = string_array(tr, "job_types");
            std::set<std::string> seen;
            for (std::size_t i = 0; i < a.job_types.size(); ++i) {
                const std::string key = "airflow.takeover.job_types[" + std::to_string(i) + "]";
                if (!known.count(a.job_types[i]))
                    throw ConfigError(key,
                                      "must be SchedulerJob, DagProcessorJob or TriggererJob, "
                                      "got \"" +
                                          a.job_types[i] + "\"");
                if (!seen.insert(a.job_types[i]).second)
                    throw ConfigError(key, "repeats " + a.job_types[i]);
            }
        }
        a.takeover_timeout = tr.millis("timeout_ms", a.takeover_timeout, 100, 60000);
        tr.finish();
    }
    r.finish();
    return a;
}

HookConfig parse_hook(const json& j, const std::string& path, Duration dflt_timeout,
                      long long max_timeout) {
    ObjectReader r(j, path);
    HookConfig h;
    h.command = string_array(r, "command");
    h.timeout = r.millis("timeout_ms", dflt_timeout, 100, max_timeout);
    r.finish();
    return h;
}

HooksConfig parse_hooks(const json& j) {
    ObjectReader r(j, "hooks");
    HooksConfig h;
    if (const json* v = r.find("on_role_change"))
        h.on_role_change = parse_hook(*v, "hooks.on_role_change", Duration{30000}, 3600000);
    // pre_promote runs while the lease is held without a scheduler: at most 10 minutes.
    if (const json* v = r.find("pre_promote"))
        h.pre_promote = parse_hook(*v, "hooks.pre_promote", Duration{5000}, 600000);
    r.finish();
    return h;
}

}  // namespace

core::ElectionConfig Config::election() const {
    core::ElectionConfig e;
    e.ttl = lease.ttl;
    e.renew_interval = lease.renew_interval;
    e.fence_margin = lease.fence_margin;
    e.poll_interval = lease.poll_interval;
    e.restart_backoff_initial = supervision.restart_backoff_initial;
    e.restart_backoff_max = supervision.restart_backoff_max;
    e.crash_loop_limit = supervision.crash_loop_limit;
    e.crash_loop_window = supervision.crash_loop_window;
    e.handover_cooldown = supervision.handover_cooldown;
    for (const auto& p : processes)
        e.processes.push_back({p.name, p.stop_timeout, p.warm_enabled(),
                               p.warm_enabled() ? p.warm->max_age : Duration{0}});
    e.priority = priority;
    e.failback = failback;
    e.nofailover = nofailover;
    if (airflow && airflow->takeover) {
        e.takeover = true;
        e.takeover_timeout = airflow->takeover_timeout;
    }
    if (hooks.pre_promote) {
        e.pre_promote = true;
        e.pre_promote_timeout = hooks.pre_promote->timeout;
    }
    e.role_change_hook = hooks.on_role_change.has_value();
    if (heartbeat) {
        e.heartbeats = true;
        e.heartbeat_interval = heartbeat->interval;
        e.miss_count = heartbeat->miss_count;
        e.slow_poll = heartbeat->slow_poll;
    }
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
    if (const json* v = r.find("failback")) {
        if (!v->is_boolean())
            throw ConfigError("failback",
                              std::string("must be true or false, got ") + type_name(*v));
        c.failback = v->get<bool>();
    }
    if (const json* v = r.find("nofailover")) {
        if (!v->is_boolean())
            throw ConfigError("nofailover",
                              std::string("must be true or false, got ") + type_name(*v));
        c.nofailover = v->get<bool>();
    }
    if (const json* f = r.find("fencing")) {
        ObjectReader fr(*f, "fencing");
        const json& roles = fr.require("database_roles");
        if (!roles.is_object() || roles.empty())
            throw ConfigError("fencing.database_roles",
                              "must be a non-empty object of node_id: role name");
        for (const auto& [node, role] : roles.items()) {
            const std::string key = "fencing.database_roles." + node;
            if (!role.is_string() || !valid_identifier(role.get<std::string>()))
                throw ConfigError(key, "must be a lower-case role name ([a-z_][a-z0-9_]*)");
            c.fence_roles[node] = role.get<std::string>();
        }
        fr.finish();
        if (!c.fence_roles.count(c.node_id))
            throw ConfigError("fencing.database_roles",
                              "must name a role for this node (" + c.node_id + ")");
    }
    if (const json* hb = r.find("heartbeat"))
        c.heartbeat = parse_heartbeat(*hb, c.node_id, c.lease);
    if (const json* m = r.find("metrics")) {
        ObjectReader mr(*m, "metrics");
        MetricsConfig mc;
        std::tie(mc.listen_host, mc.listen_port) =
            parse_endpoint("metrics.listen", mr.string("listen"));
        unsigned char addr[16];
        if (inet_pton(AF_INET, mc.listen_host.c_str(), addr) != 1 &&
            inet_pton(AF_INET6, mc.listen_host.c_str(), addr) != 1)
            throw ConfigError("metrics.listen",
                              "must be an IP address and port (e.g. "
                              "127.0.0.1:9464), got host \"" +
                                  mc.listen_host + "\"");
        mr.finish();
        c.metrics = mc;
    }
    if (const json* a = r.find("airflow"))
        c.airflow = parse_airflow(*a, c);
    if (const json* h = r.find("hooks"))
        c.hooks = parse_hooks(*h);
    r.finish();
    if (c.failback && !c.heartbeat)
        throw ConfigError("failback", "needs a heartbeat section (it acts on what peers report)");
    return c;
}

Config load_config(const std::string& path) {
    std::ifstream in(path);
    if (!in)
        throw ConfigError("(file)", "cannot read " + path);
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
