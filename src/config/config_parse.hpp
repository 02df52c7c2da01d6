// Internal to src/config: the strict JSON object reader and the parsers of each section, shared
// by the files of the config parser. Not a public header (the public API is af/config/config.hpp).
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "af/config/config.hpp"

namespace af::config::detail {

using json = nlohmann::json;

/// "an object", "a string", ...: for messages naming what was found instead.
const char* type_name(const json& j);

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

    bool boolean(const std::string& k, bool dflt) {
        const json* v = find(k);
        if (!v)
            return dflt;
        if (!v->is_boolean())
            throw ConfigError(key(k), std::string("must be true or false, got ") + type_name(*v));
        return v->get<bool>();
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
bool valid_name(const std::string& v);
/// [a-z_][a-z0-9_]{0,62}: a schema name that needs no quoting rules beyond double quotes.
bool valid_identifier(const std::string& v);
bool valid_hostname(const std::string& h);
/// The string at `k`, which must be a valid_name.
std::string checked_name(ObjectReader& r, const std::string& k);
/// Refuses a conninfo with a password in it (key word or URI userinfo), naming `key`.
void check_no_password(const std::string& key, const std::string& conninfo);
/// A required non-empty array of strings.
std::vector<std::string> string_array(ObjectReader& r, const std::string& k);
/// HOST:PORT (IPv6 in brackets).
std::pair<std::string, unsigned short> parse_endpoint(const std::string& key,
                                                      const std::string& text);

// Sections (config_timings.cpp, config_processes.cpp, config_sections.cpp).
LeaseConfig parse_lease(const json* j);
SupervisionConfig parse_supervision(const json* j, const LeaseConfig& lease);
HeartbeatConfig parse_heartbeat(const json& j, const std::string& self, const LeaseConfig& lease);
ProcessConfig parse_process(const json& j, std::size_t index, const std::string& conninfo);
DatabaseConfig parse_database(const json& j);
LogConfig parse_log(const json* j);
MetricsConfig parse_metrics(const json& j);
std::map<std::string, std::string> parse_fencing(const json& j, const std::string& self);
/// The command runs Airflow's scheduler, dag-processor or triggerer (its CLI or the warm launcher).
bool runs_airflow_singleton(const ProcessConfig& p);
/// The airflow section; absent, the defaults when a process runs an Airflow singleton, else none.
std::optional<AirflowConfig> parse_airflow(const json* j, const Config& c);
HooksConfig parse_hooks(const json& j);

}  // namespace af::config::detail
