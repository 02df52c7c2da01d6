// The hostname Airflow records in its job table, by Airflow's own rule, so the airflow-db health
// check and the takeover step look for the rows Airflow really writes.
#include "af/airflow/job_hostname.hpp"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

namespace af::airflow {

HostLookup system_lookup() {
    return {[] {
                char buf[256] = {};
                gethostname(buf, sizeof buf - 1);
                return std::string(buf);
            },
            [](const std::string& name) -> std::optional<std::vector<std::string>> {
                // As airflow.utils.net.getfqdn asks it: any family, datagram sockets.
                addrinfo hints{};
                hints.ai_family = AF_UNSPEC;
                hints.ai_socktype = SOCK_DGRAM;
                hints.ai_flags = AI_CANONNAME;
                addrinfo* res = nullptr;
                if (getaddrinfo(name.c_str(), nullptr, &hints, &res) != 0)
                    return std::nullopt;
                std::vector<std::string> names;
                for (const addrinfo* a = res; a; a = a->ai_next)
                    names.emplace_back(a->ai_canonname ? a->ai_canonname : "");
                freeaddrinfo(res);
                return names;
            }};
}

// airflow/utils/net.py (Airflow 3.3.2), getfqdn(""): name = socket.gethostname(); on OSError
// from getaddrinfo keep it; else the first entry whose canonname is non-empty wins. Python's
// socket.getfqdn (gethostbyaddr, a name with a dot) is NOT the rule: Airflow patched it out.
std::string airflow_fqdn(const HostLookup& lookup) {
    const std::string name = lookup.hostname();
    if (const auto names = lookup.canonical_names(name))
        for (const auto& n : *names)
            if (!n.empty())
                return n;
    return name;
}

JobHostname job_hostname(const config::Config& c, const HostLookup& lookup) {
    if (c.airflow)
        if (const auto it = c.airflow->hostnames.find(c.node_id); it != c.airflow->hostnames.end())
            return {it->second, "airflow.hostnames." + c.node_id};
    return {airflow_fqdn(lookup),
            "Airflow's default hostname_callable: getaddrinfo's canonical name for "
            "gethostname(), else gethostname()"};
}

}  // namespace af::airflow
