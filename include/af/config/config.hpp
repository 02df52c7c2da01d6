#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "af/core/election_config.hpp"
#include "af/util/boot_clock.hpp"

namespace af::config {

/// A configuration problem, always naming the key (as a dotted path) and the rule broken.
class ConfigError : public std::runtime_error {
  public:
    ConfigError(const std::string& key, const std::string& problem)
        : std::runtime_error(key + ": " + problem), key_(key) {}
    const std::string& key() const { return key_; }

  private:
    std::string key_;
};

/// Which kind of health check a process has (the config's "type").
enum class HealthKind { airflow_db, http, command };
/// "airflow-db", "http", "command": the config spelling.
const char* to_string(HealthKind k);
/// The kind spelled `type` in the config, or nothing for an unknown spelling.
std::optional<HealthKind> parse_health_kind(const std::string& type);

/// airflow-db: Airflow's job table says this host's job of `job_type` heartbeats.
struct AirflowDbHealth {
    std::string conninfo;  ///< Airflow's metadata database (default: database.conninfo)
    std::string job_type{"SchedulerJob"};
    std::string hostname;  ///< as Airflow records it (default: this host's name)
    Duration max_age{30000};
    bool operator==(const AirflowDbHealth&) const = default;
};

/// http: GET, expect 2xx.
struct HttpHealth {
    std::string url;
    bool operator==(const HttpHealth&) const = default;
};

/// command: exit status 0.
struct CommandHealth {
    std::vector<std::string> command;
    bool operator==(const CommandHealth&) const = default;
};

/// A health check beyond "the pid is alive" (Docker's semantics for the start period: failures
/// in it do not count, a success ends it). The timings are common; `check` is one struct per
/// kind, so a check can only carry the fields of its own kind.
struct HealthConfig {
    Duration interval{5000};
    Duration timeout{2000};
    int failure_threshold{3};
    Duration start_period{60000};
    std::variant<AirflowDbHealth, HttpHealth, CommandHealth> check;

    HealthKind kind() const { return static_cast<HealthKind>(check.index()); }
    /// The config spelling of kind(), as logs and `status` show it.
    const char* type() const { return to_string(kind()); }
    bool operator==(const HealthConfig&) const = default;
};

/// Warm standby (docs/warm-standby.md): pre-started on a standby with its imports done, blocked on
/// a go from the daemon; replaced when the code it loaded may be stale.
struct WarmConfig {
    bool enabled{true};
    Duration max_age{3600000};             ///< replaced after this long (max_age_s)
    std::vector<std::string> watch_paths;  ///< replaced when one's mtime (or existence) changes
    bool operator==(const WarmConfig&) const = default;
};

struct ProcessConfig {
    std::string name;
    std::vector<std::string> command;
    std::map<std::string, std::string> env;
    /// Names passed on from the daemon's environment beyond the base allowlist (PATH, HOME,
    /// LANG, LC_*, TZ, USER, LOGNAME, AIRFLOW_FAILOVER_*). The daemon's libpq variables
    /// (PGPASSWORD, PGPASSFILE, ...) reach a process only when named here.
    std::vector<std::string> inherit_env;
    /// Run under this Unix user (name or uid) and group (default: the user's primary group).
    std::optional<std::string> user;
    std::optional<std::string> group;
    std::optional<std::string> cwd;
    Duration stop_timeout{10000};
    std::optional<HealthConfig> health;
    std::optional<WarmConfig> warm;  ///< absent or enabled=false: started cold on promotion
    bool warm_enabled() const { return warm && warm->enabled; }
    bool operator==(const ProcessConfig&) const = default;
};

struct DatabaseConfig {
    /// libpq connection string. Passwords come from PGPASSFILE/PGPASSWORD, never from here.
    std::string conninfo;
    std::string schema{"airflow_failover"};
    Duration connect_timeout{2000};
    bool operator==(const DatabaseConfig&) const = default;
};

/// The lease and supervision sections are the core's structs, so each default is stated once
/// (af/core/election_config.hpp).
using LeaseConfig = core::LeaseTimings;
using SupervisionConfig = core::SupervisionPolicy;

/// Peer heartbeats; the timings (interval, miss_count, slow_poll) are the core's.
struct HeartbeatConfig : core::HeartbeatTimings {
    std::string listen_host;
    unsigned short listen_port{0};
    std::map<std::string, std::pair<std::string, unsigned short>> peers;  ///< node -> host, port
    std::string secret_file;
    bool insecure{false};
    bool operator==(const HeartbeatConfig&) const = default;
};

struct LogConfig {
    std::string level{"info"};
    std::string format{"text"};  ///< "text" or "json"
    bool operator==(const LogConfig&) const = default;
};

/// The Prometheus /metrics and /healthz endpoint; absent (the default) serves nothing.
struct MetricsConfig {
    std::string listen_host;
    unsigned short listen_port{0};
    bool operator==(const MetricsConfig&) const = default;
};

/// Airflow's side of a failover (docs/airflow.md): which Airflow jobs the winner of a term closes
/// out for the previous holder, so the new scheduler resets their tasks at start-up.
struct AirflowConfig {
    std::string conninfo;  ///< Airflow's metadata database (default: database.conninfo)
    std::string schema;    ///< schema of Airflow's tables; "" = the role's search_path
    /// node id -> the hostname Airflow records for that node's jobs ([core] hostname_callable)
    std::map<std::string, std::string> hostnames;
    bool takeover{true};
    /// Default: the types whose command (scheduler, dag-processor, triggerer) is a managed
    /// process of this config, else SchedulerJob.
    std::vector<std::string> job_types{"SchedulerJob"};
    Duration takeover_timeout{2000};
    bool operator==(const AirflowConfig&) const = default;
};

/// One hook: an argv run without a shell, killed (its process group) after `timeout`.
struct HookConfig {
    std::vector<std::string> command;
    Duration timeout{10000};
    bool operator==(const HookConfig&) const = default;
};

/// Patroni-style callbacks (docs/airflow.md, "Hooks").
struct HooksConfig {
    std::optional<HookConfig> on_role_change;  ///< asynchronous, in order
    std::optional<HookConfig> pre_promote;     ///< synchronous gate; non-zero exit vetoes
    bool operator==(const HooksConfig&) const = default;
};

/// The whole configuration. The candidacy keys (priority, failback, nofailover) are the core's
/// struct, at the top level of the file.
struct Config : core::Candidacy {
    std::string cluster;
    std::string node_id;
    DatabaseConfig database;
    LeaseConfig lease;
    SupervisionConfig supervision;
    std::vector<ProcessConfig> processes;
    LogConfig log;
    Duration status_interval{1000};  ///< how often the node row is refreshed
    std::optional<HeartbeatConfig> heartbeat;
    /// Database fencing: node id -> the PostgreSQL role its Airflow processes log in with. The
    /// winner of a term revokes LOGIN from the others' roles and ends their sessions first.
    std::map<std::string, std::string> fence_roles;
    std::optional<MetricsConfig> metrics;
    std::optional<AirflowConfig> airflow;
    HooksConfig hooks;

    /// The core's configuration: the shared sections copied whole, plus what the other
    /// sections switch on (heartbeats, takeover, hooks).
    core::ElectionConfig election() const;
    bool operator==(const Config&) const = default;
};

/// How long this node's row may go unrefreshed before `status` and the dashboard call it stale
/// (the daemon writes it into the row; the schema's cluster_status judges by it): three missed
/// refreshes, and never less than a lease TTL.
Duration stale_after(const Config& c);

/// Parses and validates JSON text. Throws ConfigError naming the key and the rule.
Config parse_config(const std::string& json_text);

/// Reads and parses a file; a missing or unreadable file is a ConfigError on key "(file)".
Config load_config(const std::string& path);

}  // namespace af::config
