// The processes section of the config: each managed process, its health check and its warm
// standby settings.
#include "af/health/http_url.hpp"
#include "af/proc/child_env.hpp"
#include "config_parse.hpp"

namespace af::config::detail {

namespace {

const char* const k_health_types = "\"airflow-db\", \"http\" or \"command\"";

HealthConfig parse_health(const json& j, const std::string& path, const std::string& conninfo) {
    ObjectReader r(j, path);
    HealthConfig h;
    const std::string type = r.string("type");
    const std::optional<HealthKind> kind = parse_health_kind(type);
    if (!kind)
        throw ConfigError(r.key("type"),
                          std::string("must be ") + k_health_types + ", got \"" + type + "\"");
    h.interval = r.millis("interval_ms", h.interval, 100, 3600000);
    h.timeout = r.millis("timeout_ms", h.timeout, 50, 600000);
    h.failure_threshold =
        static_cast<int>(r.integer("failure_threshold", h.failure_threshold, 1, 1000));
    h.start_period = r.millis("start_period_ms", h.start_period, 0, 3600000);
    switch (*kind) {
        case HealthKind::airflow_db: {
            AirflowDbHealth a;
            a.conninfo = r.string("conninfo", conninfo);
            check_no_password(r.key("conninfo"), a.conninfo);
            a.job_type = r.string("job_type", a.job_type);
            a.hostname = r.string("hostname", std::string());
            a.max_age = r.millis("max_age_ms", a.max_age, 100, 3600000);
            h.check = std::move(a);
            break;
        }
        case HealthKind::http: {
            HttpHealth a{r.string("url")};
            if (std::string why; !health::parse_http_url(a.url, &why))
                throw ConfigError(r.key("url"), "must be an http:// URL: " + why);
            h.check = std::move(a);
            break;
        }
        case HealthKind::command:
            h.check = CommandHealth{string_array(r, "command")};
            break;
    }
    r.finish();
    if (h.timeout > h.interval)
        throw ConfigError(r.key("timeout_ms"), "must not exceed " + r.key("interval_ms"));
    return h;
}

WarmConfig parse_warm(const json& j, const std::string& path) {
    ObjectReader r(j, path);
    WarmConfig w;
    w.enabled = r.boolean("enabled", w.enabled);
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

}  // namespace

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
            if (proc::reserved_name(k))
                throw ConfigError(r.key("env") + "." + k, "is reserved: the daemon sets " +
                                                              std::string(proc::k_reserved_prefix) +
                                                              "* itself");
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

}  // namespace af::config::detail
