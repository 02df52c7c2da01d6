// The operator commands that act on one node or on the lease: switchover, restart, remove,
// failover; and events prune, the administrator's.
#include "af/cli/admin_cmds.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <pqxx/pqxx>
#include <thread>

#include "af/cli/cli.hpp"
#include "af/cli/cli_common.hpp"
#include "af/cli/cluster_cmds.hpp"
#include "af/core/command_kind.hpp"
#include "af/db/cluster_view.hpp"
#include "af/db/command_sql.hpp"
#include "af/db/connection.hpp"
#include "af/db/state_sql.hpp"

namespace af::cli {

namespace {

using Clock = std::chrono::steady_clock;

const db::NodeView* find_node(const db::ClusterView& v, const std::string& id) {
    const auto it = std::find_if(v.nodes.begin(), v.nodes.end(),
                                 [&](const db::NodeView& n) { return n.node_id == id; });
    return it == v.nodes.end() ? nullptr : &*it;
}

// The schema's stale rule (cluster_status): heard from within the row's own threshold, and not
// claiming an active role without the live lease.
bool fresh(const db::NodeView& n) {
    return !n.stale;
}

void record(pqxx::connection& conn, const config::Config& c, const std::string& kind,
            const std::string& detail) {
    // Term 0: the operator's row, not part of any holder's term (operator_cmds.cpp).
    db::StateSql(db_scope(c), c.node_id).record(conn, kind, detail, 0);
}

int failed(const std::string& cmd, const std::exception& e) {
    std::cerr << "airflow-failover " << cmd << ": " << error_text(e) << "\n";
    return k_exit_unknown;
}

}  // namespace

int cmd_switchover(const config::Config& c, const std::optional<std::string>& to,
                   double timeout_s) {
    try {
        auto conn = open_for_operator(c);
        const db::ClusterView before = db::ClusterSql(db_scope(c)).read(*conn);
        if (!before.active) {
            std::cerr << "switchover refused: cluster " << c.cluster
                      << " has no active node (see `airflow-failover failover`)\n";
            return k_exit_no_active;
        }
        if (to) {
            const db::NodeView* n = find_node(before, *to);
            if (!n) {
                std::cerr << "switchover refused: unknown node '" << *to << "' in cluster "
                          << c.cluster << "\n";
                return k_exit_no_active;
            }
            if (*to == *before.active) {
                std::cout << *to << " is already active (term " << before.term << ")\n";
                return k_exit_healthy;
            }
            if (!fresh(*n) || n->role != "standby") {
                std::cerr << "switchover refused: " << *to << " is not a healthy standby (role "
                          << n->role << ", last seen " << age_text(n->last_seen_age_ms)
                          << " ago)\n";
                return k_exit_no_active;
            }
        }
        db::CommandSql commands(db_scope(c), c.node_id);
        const auto started = Clock::now();
        // Meant for the active the operator is told about: should another node take over
        // before it is carried out, the command is closed as stale, not run by the newcomer.
        const auto requested =
            commands.insert(*conn, std::string(to_string(core::CommandKind::switchover)), to,
                            requester(*conn), db::CommandTarget{*before.active, before.term});
        if (!requested) {
            std::cerr << "switchover refused: " << *before.active << " no longer holds the lease "
                      << "in term " << before.term << "\n";
            return k_exit_no_active;
        }
        const std::int64_t id = *requested;
        std::cout << "switchover requested (command " << id << "): " << *before.active << " (term "
                  << before.term << ") -> " << to.value_or("the best standby") << "\n";
        const auto deadline = started + std::chrono::duration<double>(timeout_s);
        std::optional<std::string> result;
        while (Clock::now() < deadline) {
            if (!result) {
                result = commands.result(*conn, id);
                if (result &&
                    (result->rfind("refused", 0) == 0 || result->rfind("stale", 0) == 0)) {
                    std::cerr << "switchover " << *result << "\n";
                    return k_exit_no_active;
                }
            }
            const db::ClusterView now = db::ClusterSql(db_scope(c)).read(*conn);
            if (now.active && *now.active != *before.active && now.term > before.term) {
                const auto ms =
                    std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started)
                        .count();
                std::cout << "switchover done: " << *now.active << " is active in term " << now.term
                          << " (" << ms << " ms after the request)\n";
                if (to && *now.active != *to) {
                    std::cerr << "but the target was " << *to << "\n";
                    return k_exit_no_active;
                }
                return k_exit_healthy;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        std::cerr << "switchover: no new active node within " << timeout_s << " s"
                  << (result ? " (command: " + *result + ")" : "") << "\n";
        return k_exit_no_active;
    } catch (const std::exception& e) {
        return failed("switchover", e);
    }
}

int cmd_restart(const config::Config& c, const std::string& process,
                const std::optional<std::string>& node, double timeout_s) {
    try {
        auto conn = open_for_operator(c);
        const db::ClusterView v = db::ClusterSql(db_scope(c)).read(*conn);
        if (!v.active) {
            std::cerr << "restart refused: cluster " << c.cluster
                      << " has no active node, so no process runs\n";
            return k_exit_no_active;
        }
        if (node && *node != *v.active) {
            std::cerr << "restart refused: " << *node << " is not the active node (" << *v.active
                      << " is, in term " << v.term << "); only the active node runs processes\n";
            return k_exit_no_active;
        }
        db::CommandSql commands(db_scope(c), c.node_id);
        const auto requested =
            commands.insert(*conn, std::string(to_string(core::CommandKind::restart)), process,
                            requester(*conn), db::CommandTarget{*v.active, v.term});
        if (!requested) {
            std::cerr << "restart refused: " << *v.active << " no longer holds the lease in term "
                      << v.term << "\n";
            return k_exit_no_active;
        }
        const std::int64_t id = *requested;
        std::cout << "restart requested (command " << id << "): " << process << " on " << *v.active
                  << " (term " << v.term << ")\n";
        const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
        while (Clock::now() < deadline) {
            if (const auto result = commands.result(*conn, id)) {
                const bool done = result->rfind("done", 0) == 0;
                (done ? std::cout : std::cerr) << "restart " << *result << "\n";
                return done ? k_exit_healthy : k_exit_no_active;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        std::cerr << "restart: no answer from " << *v.active << " within " << timeout_s
                  << " s (command " << id << " is still pending)\n";
        return k_exit_no_active;
    } catch (const std::exception& e) {
        return failed("restart", e);
    }
}

int cmd_remove(const config::Config& c, const std::string& node) {
    try {
        auto conn = open_for_operator(c);
        const db::ClusterView v = db::ClusterSql(db_scope(c)).read(*conn);
        const db::NodeView* n = find_node(v, node);
        if (!n) {
            std::cerr << "remove: no node '" << node << "' in cluster " << c.cluster << "\n";
            return k_exit_no_active;
        }
        if (v.active && *v.active == node) {
            std::cerr << "remove refused: " << node << " holds the lease (term " << v.term << ")\n";
            return k_exit_no_active;
        }
        // Judged in the statement itself by the schema's stale rule, on the database clock: a
        // daemon that wrote its row since the read above keeps it.
        const std::optional<std::string> last_seen =
            db::ClusterSql(db_scope(c)).remove_stale_node(*conn, node);
        if (!last_seen) {
            std::cerr << "remove refused: " << node << " was seen " << age_text(n->last_seen_age_ms)
                      << " ago, within its stale threshold"
                      << "; stop its daemon first (a live daemon writes its row again)\n";
            return k_exit_no_active;
        }
        const std::string who = requester(*conn);
        record(*conn, c, "node_removed",
               node + " (last seen " + *last_seen + ") removed by " + who);
        std::cout << "removed node " << node << " from cluster " << c.cluster << " (last seen "
                  << *last_seen << ")\n";
        return k_exit_healthy;
    } catch (const std::exception& e) {
        return failed("remove", e);
    }
}

int cmd_failover(const config::Config& c, const std::string& to, bool force, bool yes,
                 double timeout_s) {
    try {
        auto conn = open_for_operator(c);
        const db::ClusterView v = db::ClusterSql(db_scope(c)).read(*conn);
        const db::NodeView* target = find_node(v, to);
        if (!target) {
            std::cerr << "failover refused: unknown node '" << to << "' in cluster " << c.cluster
                      << "\n";
            return k_exit_no_active;
        }
        if (v.active && *v.active == to) {
            std::cout << to << " is already active (term " << v.term << ")\n";
            return k_exit_healthy;
        }
        if (!fresh(*target) || target->role != "standby") {
            std::cerr << "failover refused: " << to << " is not a healthy standby (role "
                      << target->role << ", last seen " << age_text(target->last_seen_age_ms)
                      << " ago)\n";
            return k_exit_no_active;
        }
        const db::NodeView* active = v.active ? find_node(v, *v.active) : nullptr;
        const bool healthy_active = active && fresh(*active) && active->role == "active";
        if (healthy_active && !force) {
            std::cerr << "failover refused: " << *v.active << " is a healthy active node (term "
                      << v.term << "); use `airflow-failover switchover --to " << to
                      << "`, or --force\n";
            return k_exit_no_active;
        }
        const std::string from =
            v.active ? *v.active + " (term " + std::to_string(v.term) + ")" : "no active node";
        if (!yes) {
            if (isatty(STDIN_FILENO) == 0) {
                std::cerr << "failover: not on a terminal, so nobody can confirm; add --yes\n";
                return k_exit_unknown;
            }
            std::cout << "fail over cluster " << c.cluster << " from " << from << " to " << to
                      << "? [y/N] " << std::flush;
            std::string answer;
            std::getline(std::cin, answer);
            if (answer != "y" && answer != "yes") {
                std::cerr << "failover: not confirmed, nothing done\n";
                return k_exit_no_active;
            }
        }
        const std::string who = requester(*conn);
        record(*conn, c, "failover_requested",
               "to " + to + " from " + from + (force ? ", forced" : "") + ", by " + who);
        std::cout << "failover requested: " << from << " -> " << to << "\n";
        db::CommandSql commands(db_scope(c), c.node_id);
        if (v.active)
            commands.insert(*conn, std::string(to_string(core::CommandKind::switchover)), to,
                            who + " (failover)", db::CommandTarget{*v.active, v.term});
        // A holder that does not answer loses its lease at the expiry; then the free lease is
        // reserved for the target, so that no other standby takes it first.
        const auto started = Clock::now();
        const auto deadline = started + std::chrono::duration<double>(timeout_s);
        const auto reserve_ms = static_cast<long long>(timeout_s * 1000);
        while (Clock::now() < deadline) {
            const db::ClusterView now = db::ClusterSql(db_scope(c)).read(*conn);
            if (now.active && *now.active == to && now.term > v.term) {
                std::cout << "failover done: " << to << " is active in term " << now.term << " ("
                          << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() -
                                                                                   started)
                                 .count()
                          << " ms after the request)\n";
                return k_exit_healthy;
            }
            if (!now.active) {
                pqxx::nontransaction tx(*conn);
                tx.exec_params(
                    "SELECT " + db::quoted(c.database.schema) + ".reserve_free_lease($1, $2, $3)",
                    c.cluster, to, reserve_ms);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        const db::ClusterView end = db::ClusterSql(db_scope(c)).read(*conn);
        std::cerr << "failover: " << to << " is not active within " << timeout_s
                  << " s (active: " << end.active.value_or("none") << ", term " << end.term
                  << ")\n";
        return k_exit_no_active;
    } catch (const std::exception& e) {
        return failed("failover", e);
    }
}

int cmd_events_prune(const config::Config& c, int days,
                     const std::optional<std::string>& conninfo) {
    try {
        auto conn = db::open_connection(conninfo.value_or(c.database.conninfo),
                                        c.database.connect_timeout, k_admin_statement_timeout);
        require_schema(*conn, c);
        const std::size_t n = db::ClusterSql(db_scope(c)).prune_events(*conn, days);
        record(*conn, c, "events_pruned",
               std::to_string(n) + " events older than " + std::to_string(days) +
                   " days deleted by " + requester(*conn));
        std::cout << "deleted " << n << " events older than " << days << " days in cluster "
                  << c.cluster << "\n";
        return 0;
    } catch (const pqxx::sql_error& e) {
        std::cerr << "airflow-failover events prune: " << error_text(e);
        if (e.sqlstate() == "P0001" || e.sqlstate() == "42501")
            std::cerr << " (pruning needs the events table's owner: where an administrator "
                         "owns it (init-db --daemon-role), run this with --conninfo as that "
                         "administrator, after `init-db` of this version)";
        std::cerr << "\n";
        return k_exit_unknown;
    } catch (const std::exception& e) {
        return failed("events prune", e);
    }
}

}  // namespace af::cli
