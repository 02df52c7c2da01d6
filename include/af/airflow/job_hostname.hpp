#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "af/config/config.hpp"

namespace af::airflow {

/// What the rule needs from the host, so it can be tested without the host: its name
/// (gethostname) and the canonical names getaddrinfo(name, AI_CANONNAME) gives for a name, in
/// the order of the answer ("" where an entry carries none), or nothing when the lookup fails.
struct HostLookup {
    std::function<std::string()> hostname;
    std::function<std::optional<std::vector<std::string>>(const std::string&)> canonical_names;
};

/// The lookups of this host: gethostname(2) and getaddrinfo(3) (SOCK_DGRAM, AI_CANONNAME).
HostLookup system_lookup();

/// The hostname Airflow records for its jobs at its defaults (`[core] hostname_callable` =
/// airflow.utils.net.getfqdn): the first non-empty canonical name getaddrinfo gives for
/// gethostname(), else (lookup failed, or no canonical name) gethostname() itself.
std::string airflow_fqdn(const HostLookup& lookup);

/// Where a node's Airflow hostname comes from, as check-config says it.
struct JobHostname {
    std::string hostname;
    std::string source;  ///< "airflow.hostnames.<node>" or "Airflow's default rule (...)"
};

/// This node's Airflow hostname: airflow.hostnames[node_id] when configured, else airflow_fqdn.
JobHostname job_hostname(const config::Config& c, const HostLookup& lookup);

}  // namespace af::airflow
