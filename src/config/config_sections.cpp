// The plain sections of the config: database, log, metrics, fencing, airflow and hooks.
#include <arpa/inet.h>

#include <algorithm>
#include <tuple>

#include "config_parse.hpp"

namespace af::config::detail {

DatabaseConfig parse_database(const json& j) {
    ObjectReader r(j, "database");
    DatabaseConfig d;
    d.conninfo = r.string("conninfo");
    check_no_password("database.conninfo", d.conninfo);
    d.schema = r.string("schema", d.schema);
    if (!valid_identifier(d.schema))
        throw ConfigError(
            "database.schema",
            "must be a lower-case SQL identifier ([a-z_][a-z0-9_]*), got \"" + d.schema + "\"");
    d.connect_timeout = r.millis("connect_timeout_ms", d.connect_timeout, 100, 60000);
    r.finish();
    return d;
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

MetricsConfig parse_metrics(const json& j) {
    ObjectReader mr(j, "metrics");
    MetricsConfig mc;
    std::tie(mc.listen_host, mc.listen_port) =
        parse_endpoint("metrics.listen", mr.string("listen"));
    unsigned char addr[16];
    if (inet_pton(AF_INET, mc.listen_host.c_str(), addr) != 1 &&
        inet_pton(AF_INET6, mc.listen_host.c_str(), addr) != 1)
        throw ConfigError("metrics.listen",
                          "must be an IP address and port (e.g. 127.0.0.1:9464), got host \"" +
                              mc.listen_host + "\"");
    mr.finish();
    return mc;
}

std::map<std::string, std::string> parse_fencing(const json& j, const std::string& self) {
    ObjectReader fr(j, "fencing");
    std::map<std::string, std::string> out;
    const json& roles = fr.require("database_roles");
    if (!roles.is_object() || roles.empty())
        throw ConfigError("fencing.database_roles",
                          "must be a non-empty object of node_id: role name");
    for (const auto& [node, role] : roles.items()) {
        const std::string key = "fencing.database_roles." + node;
        if (!valid_name(node))
            throw ConfigError(key, "is not a valid node id ([A-Za-z0-9][A-Za-z0-9._-]*)");
        if (!role.is_string() || !valid_identifier(role.get<std::string>()))
            throw ConfigError(key, "must be a lower-case role name ([a-z_][a-z0-9_]*)");
        out[node] = role.get<std::string>();
    }
    fr.finish();
    if (!out.count(self))
        throw ConfigError("fencing.database_roles",
                          "must name a role for this node (" + self + ")");
    return out;
}

namespace {

const std::pair<const char*, const char*> k_airflow_jobs[] = {{"SchedulerJob", "scheduler"},
                                                              {"DagProcessorJob", "dag-processor"},
                                                              {"TriggererJob", "triggerer"}};

bool has_arg(const ProcessConfig& p, const std::string& arg) {
    return std::find(p.command.begin(), p.command.end(), arg) != p.command.end();
}

/// An argument naming Airflow's CLI (".../bin/airflow", "-m airflow") or the warm launcher.
bool names_airflow(const ProcessConfig& p) {
    return std::any_of(p.command.begin(), p.command.end(), [](const std::string& a) {
        const std::string base = a.substr(a.rfind('/') == std::string::npos ? 0 : a.rfind('/') + 1);
        return base == "airflow" || base == "airflow_failover_warm";
    });
}

}  // namespace

bool runs_airflow_singleton(const ProcessConfig& p) {
    return names_airflow(p) && std::any_of(std::begin(k_airflow_jobs), std::end(k_airflow_jobs),
                                           [&](const auto& job) { return has_arg(p, job.second); });
}

std::optional<AirflowConfig> parse_airflow(const json* j, const Config& c) {
    const bool runs_airflow =
        std::any_of(c.processes.begin(), c.processes.end(), runs_airflow_singleton);
    // On by default: a scheduler that died with the previous holder left its jobs `running`,
    // and without the step Airflow resets the task only after its orphan check (300 s).
    if (!j && !runs_airflow)
        return std::nullopt;
    static const json k_empty = json::object();
    ObjectReader r(j ? *j : k_empty, "airflow");
    AirflowConfig a;
    a.conninfo = r.string("conninfo", c.database.conninfo);
    check_no_password("airflow.conninfo", a.conninfo);
    a.schema = r.string("schema", std::string());
    if (!a.schema.empty() && !valid_identifier(a.schema))
        throw ConfigError(
            "airflow.schema",
            "must be a lower-case SQL identifier ([a-z_][a-z0-9_]*), got \"" + a.schema + "\"");
    // Optional: without an entry, a node's Airflow hostname is the one its daemon recorded in
    // its node row (Airflow's default rule, src/airflow/job_hostname.cpp).
    if (const json* hosts = r.find("hostnames")) {
        if (!hosts->is_object())
            throw ConfigError("airflow.hostnames",
                              "must be an object of node_id: the hostname Airflow records for "
                              "that node's jobs");
        for (const auto& [node, host] : hosts->items()) {
            const std::string key = "airflow.hostnames." + node;
            if (!valid_name(node))
                throw ConfigError(key, "is not a valid node id");
            if (!host.is_string() || !valid_hostname(host.get<std::string>()))
                throw ConfigError(key, "must be a hostname (letters, digits, '.', '-', '_'), got " +
                                           (host.is_string() ? "\"" + host.get<std::string>() + "\""
                                                             : std::string(type_name(host))));
            // Two nodes with one hostname: a takeover for either would close the other's jobs.
            for (const auto& [other, h] : a.hostnames)
                if (h == host.get<std::string>())
                    throw ConfigError(key, "repeats the hostname \"" + h + "\" of node " + other +
                                               "; each node needs its own");
            a.hostnames[node] = host.get<std::string>();
        }
    }
    // Default job types: those whose Airflow command runs under this daemon. A triggerer or
    // dag-processor started elsewhere (systemd on every node) may be alive with this very
    // hostname, and closing out a live job would make Airflow hand its work to another.
    a.job_types.clear();
    for (const auto& job : k_airflow_jobs) {
        const std::string sub = job.second;
        if (std::any_of(c.processes.begin(), c.processes.end(),
                        [&](const auto& p) { return has_arg(p, sub); }))
            a.job_types.emplace_back(job.first);
    }
    if (a.job_types.empty())
        a.job_types.emplace_back("SchedulerJob");
    if (const json* t = r.find("takeover")) {
        ObjectReader tr(*t, "airflow.takeover");
        a.takeover = tr.boolean("enabled", a.takeover);
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

namespace {

HookConfig parse_hook(const json& j, const std::string& path, Duration dflt_timeout,
                      long long max_timeout) {
    ObjectReader r(j, path);
    HookConfig h;
    h.command = string_array(r, "command");
    h.timeout = r.millis("timeout_ms", dflt_timeout, 100, max_timeout);
    r.finish();
    return h;
}

}  // namespace

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

}  // namespace af::config::detail
