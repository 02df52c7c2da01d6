// `status` and `history`: what the cluster looks like, read from the database, as text or JSON.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "af/cli/cli.hpp"
#include "af/cli/cli_common.hpp"
#include "af/cli/cluster_cmds.hpp"
#include "af/cli/operator_cmds.hpp"
#include "af/db/cluster_view.hpp"
#include "af/db/connection.hpp"
#include "af/db/history_sql.hpp"
#include "af/history/printable.hpp"

namespace af::cli {

std::string age_text(std::int64_t ms) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
    return buf;
}

int cmd_status(const config::Config& c, bool json) {
    db::ClusterView v;
    OperatorState ops;
    try {
        auto conn = db::open_connection(c.database.conninfo, c.database.connect_timeout,
                                        k_operator_statement_timeout);
        v = db::ClusterSql(db_scope(c)).read(*conn);
        ops = read_operator_state(*conn, c, v.active.has_value());
    } catch (const std::exception& e) {
        if (json)
            std::cout << nlohmann::json{{"cluster", c.cluster},
                                        {"active", nullptr},
                                        {"term", nullptr},
                                        {"nodes", nlohmann::json::array()},
                                        {"error", e.what()}}
                             .dump()
                      << "\n";
        std::cerr << "airflow-failover status: cannot read the cluster state: " << e.what() << "\n";
        return k_exit_unknown;
    }
    if (json) {
        nlohmann::json j = v.to_json();
        j.update(ops.json);
        std::cout << j.dump() << "\n";
    } else {
        using history::printable;
        std::printf("cluster %s: ", printable(v.cluster).c_str());
        if (v.active)
            std::printf("active %s, term %lld, lease %s left\n", printable(*v.active).c_str(),
                        static_cast<long long>(v.term), age_text(v.lease_remaining_ms).c_str());
        else
            std::printf("NO ACTIVE NODE (term %lld)\n", static_cast<long long>(v.term));
        std::printf("%s", ops.text.c_str());
        std::printf("  %-16s %-9s %-6s %-9s %s\n", "NODE", "ROLE", "TERM", "SEEN", "PROCESSES");
        // Printed after the node table: what each node hears of the others.
        std::string matrix;
        for (const auto& n : v.nodes) {
            if (n.peers.empty())
                continue;
            matrix += "  " + printable(n.node_id) + " hears:";
            for (const auto& [peer, p] : n.peers.items()) {
                matrix += " " + printable(peer) + "=";
                if (p.value("heard", false))
                    matrix += std::to_string(p.value("age_ms", 0)) + "ms";
                else
                    matrix += p.contains("age_ms")
                                  ? "SILENT(" + age_text(p.value("age_ms", 0)) + ")"
                                  : "NEVER";
            }
            matrix += "\n";
        }
        for (const auto& n : v.nodes) {
            std::string procs;
            for (const auto& p : n.processes) {
                if (!procs.empty())
                    procs += ", ";
                procs += printable(p.value("name", "?"));
                procs += p["pid"].is_null() ? "=-" : "=" + std::to_string(p["pid"].get<long>());
            }
            // A row that stopped changing belongs to a dead or cut-off daemon: its role is history.
            const std::string role = printable(n.role);
            const std::string note = n.stale ? "  (last role " + role + "; not heard from)" : "";
            std::printf("  %-16s %-9s %-6lld %-9s %s%s\n", printable(n.node_id).c_str(),
                        n.stale ? "stale" : role.c_str(), static_cast<long long>(n.term),
                        (age_text(n.last_seen_age_ms) + " ago").c_str(),
                        procs.empty() ? "-" : procs.c_str(), note.c_str());
        }
        if (!matrix.empty())
            std::printf("heartbeats:\n%s", matrix.c_str());
    }
    return v.active ? k_exit_healthy : k_exit_no_active;
}

int cmd_history(const config::Config& c, bool json, int limit) {
    std::vector<history::Term> terms;
    try {
        auto conn = db::open_connection(c.database.conninfo, c.database.connect_timeout,
                                        k_operator_statement_timeout);
        terms = db::HistorySql(db_scope(c)).read(*conn, limit);
    } catch (const std::exception& e) {
        std::cerr << "airflow-failover history: cannot read the events: " << e.what() << "\n";
        return k_exit_unknown;
    }
    if (json) {
        auto arr = nlohmann::json::array();
        for (const auto& t : terms)
            arr.push_back(history::to_json(t));
        std::cout << nlohmann::json{{"cluster", c.cluster}, {"terms", arr}}.dump() << "\n";
        return 0;
    }
    if (terms.empty()) {
        std::cout << "cluster " << history::printable(c.cluster) << ": no term recorded yet\n";
        return 0;
    }
    std::printf("%-6s %-16s %-24s %-24s %-12s %s\n", "TERM", "HOLDER", "START (UTC)", "END",
                "ENDED", "GAP");
    for (const auto& t : terms) {
        std::string gap = "-";
        if (t.gap_ms) {
            char buf[48];
            std::snprintf(buf, sizeof buf, "%s%.0f ms", t.gap_is_upper_bound ? "<= " : "",
                          *t.gap_ms);
            gap = buf;
        }
        using history::printable;
        std::printf("%-6lld %-16s %-24s %-24s %-12s %s\n", static_cast<long long>(t.term),
                    printable(t.holder).c_str(), printable(t.start).c_str(),
                    t.end ? printable(*t.end).c_str() : "-", printable(t.ended).c_str(),
                    gap.c_str());
    }
    return 0;
}

}  // namespace af::cli
