#include "af/cli/operator_cmds.hpp"

#include <cstdio>
#include <iostream>
#include <pqxx/pqxx>

#include "af/cli/cli.hpp"
#include "af/cli/cli_common.hpp"
#include "af/core/event_kind.hpp"
#include "af/db/cluster_view.hpp"
#include "af/db/connection.hpp"
#include "af/db/pause_sql.hpp"
#include "af/db/scheduled_sql.hpp"
#include "af/db/state_sql.hpp"
#include "af/history/printable.hpp"

namespace af::cli {

namespace {

std::string pause_line(const db::Pause& p) {
    // Written by other roles and people: printed escaped (history/printable.hpp).
    using history::printable;
    std::string s = "paused by " + printable(p.paused_by) + " at " + printable(p.paused_at);
    if (p.for_holder)
        s += " (" + printable(*p.for_holder) + " held term " + std::to_string(p.for_term) + ")";
    if (!p.reason.empty())
        s += ", reason: " + printable(p.reason);
    s += p.stop_processes ? "; processes stopped until resume" : "; processes left running";
    if (p.expires_at)
        s += "; expires " + *p.expires_at + " (in " +
             std::to_string(p.remaining_ms.value_or(0) / 1000) + " s)";
    else
        s += "; no expiry (until resume)";
    return s;
}

void record(pqxx::connection& conn, const config::Config& c, core::EventKind kind,
            const std::string& detail) {
    // Recorded under the node whose config the CLI used; the detail names the operator and the
    // holder's term. Term 0: the row is the operator's, not part of any holder's term, so
    // `history` never reads it as that holder's last sign of life.
    db::StateSql(db_scope(c), c.node_id).record(conn, std::string(to_string(kind)), detail, 0);
}

}  // namespace

int cmd_pause(const config::Config& c, bool stop_processes, const std::string& reason,
              std::optional<std::int64_t> expires_ms) {
    try {
        auto conn = open_for_operator(c);
        const db::Pause p = db::PauseSql(db_scope(c))
                                .set(*conn, requester(*conn), reason, stop_processes, expires_ms);
        record(*conn, c, core::EventKind::paused, pause_line(p));
        std::cout << "cluster " << c.cluster << " " << pause_line(p) << "\n"
                  << "no standby takes over and no process is restarted or killed for its "
                     "health until `airflow-failover resume`"
                  << (p.expires_at ? " or the expiry" : "") << "\n";
        const db::ClusterView v = db::ClusterSql(db_scope(c)).read(*conn);
        if (!v.active)
            std::cout << "warning: no node is active now, and none will be until resume\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "airflow-failover pause: " << e.what() << "\n";
        return k_exit_unknown;
    }
}

int cmd_resume(const config::Config& c) {
    try {
        auto conn = open_for_operator(c);
        const auto was = db::PauseSql(db_scope(c)).clear(*conn);
        if (!was) {
            std::cout << "cluster " << c.cluster << " was not paused\n";
            return 0;
        }
        const db::ClusterView v = db::ClusterSql(db_scope(c)).read(*conn);
        record(*conn, c, core::EventKind::resumed,
               "resumed by " + requester(*conn) + " (was " + pause_line(*was) + ")");
        std::cout << "cluster " << c.cluster << " resumed (was " << pause_line(*was) << ")\n";
        if (!v.active)
            std::cout << "no node is active: the best standby takes the lease now\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "airflow-failover resume: " << e.what() << "\n";
        return k_exit_unknown;
    }
}

int cmd_switchover_at(const config::Config& c, const std::optional<std::string>& to,
                      const AtTime& at) {
    try {
        auto conn = open_for_operator(c);
        AtTime when = at;
        if (when.iso)
            when.iso = timestamp_on_db(*conn, "--at", *when.iso);
        const db::ClusterView v = db::ClusterSql(db_scope(c)).read(*conn);
        if (!v.active) {
            std::cerr << "switchover refused: cluster " << c.cluster << " has no active node\n";
            return k_exit_no_active;
        }
        if (to && *to == *v.active) {
            std::cerr << "switchover refused: " << *to << " is the active node\n";
            return k_exit_no_active;
        }
        if (to && std::none_of(v.nodes.begin(), v.nodes.end(),
                               [&](const db::NodeView& n) { return n.node_id == *to; })) {
            std::cerr << "switchover refused: unknown node '" << *to << "' in cluster " << c.cluster
                      << "\n";
            return k_exit_no_active;
        }
        // Bound to the active the operator sees: should another node take over before the
        // time, the command is closed as stale rather than run by the newcomer.
        const auto s = db::ScheduledSql(db_scope(c))
                           .schedule(*conn, to, requester(*conn),
                                     db::CommandTarget{*v.active, v.term}, when.in_ms, when.iso);
        std::cout << "switchover scheduled (command " << s.id << ") for " << s.at
                  << " (database clock, in " << (s.in_ms + 999) / 1000 << " s): " << *v.active
                  << " (term " << v.term << ") -> " << to.value_or("the best standby") << "\n"
                  << "cancel with `airflow-failover switchover --cancel`\n";
        return 0;
    } catch (const TimeArgError& e) {
        std::cerr << "airflow-failover switchover: " << e.what() << "\n";
        return k_exit_unknown;
    } catch (const db::NotInFuture& e) {
        std::cerr << "switchover --at refused: " << e.what() << "\n";
        return k_exit_unknown;
    } catch (const pqxx::data_exception& e) {
        std::cerr << "switchover --at: the database cannot read the time: " << e.what() << "\n";
        return k_exit_unknown;
    } catch (const std::exception& e) {
        std::cerr << "airflow-failover switchover: " << error_text(e) << "\n";
        return k_exit_unknown;
    }
}

int cmd_switchover_cancel(const config::Config& c) {
    try {
        auto conn = open_for_operator(c);
        const auto gone = db::ScheduledSql(db_scope(c)).cancel(*conn, requester(*conn));
        if (gone.empty()) {
            std::cout << "no scheduled switchover to cancel in cluster " << c.cluster << "\n";
            return 0;
        }
        for (const auto& s : gone)
            std::cout << "cancelled switchover " << s.id << " (" << s.for_holder << " -> "
                      << s.target.value_or("the best standby") << " at " << s.at << ")\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "airflow-failover switchover --cancel: " << e.what() << "\n";
        return k_exit_unknown;
    }
}

OperatorState read_operator_state(pqxx::connection& conn, const config::Config& c, bool active) {
    OperatorState o;
    o.json = {{"paused", nullptr}, {"scheduled_switchovers", nlohmann::json::array()}};
    {
        pqxx::nontransaction tx(conn);
        const auto v = tx.exec_params("SELECT to_regclass($1) IS NOT NULL",
                                      db::quoted(c.database.schema) + ".pause");
        if (!v[0][0].as<bool>())
            return o;  // schema older than version 5: no daemon has started this build yet
    }
    if (const auto p = db::PauseSql(db_scope(c)).read(conn)) {
        o.paused = true;
        o.json["paused"] = p->to_json();
        o.text += "MAINTENANCE MODE: " + pause_line(*p) + "\n";
        if (!active)
            o.text +=
                "  NO ACTIVE NODE while paused: nobody takes over until `airflow-failover "
                "resume`" +
                std::string(p->expires_at ? " or the expiry" : "") + "\n";
    }
    for (const auto& s : db::ScheduledSql(db_scope(c)).waiting(conn)) {
        o.json["scheduled_switchovers"].push_back(s.to_json());
        o.text += "scheduled switchover " + std::to_string(s.id) + ": " +
                  history::printable(s.for_holder) + " (term " + std::to_string(s.for_term) +
                  ") -> " + history::printable(s.target.value_or("the best standby")) + " at " +
                  s.at + " (in " + std::to_string(std::max<std::int64_t>(0, s.in_ms) / 1000) +
                  " s), by " + history::printable(s.requested_by) + "\n";
    }
    return o;
}

}  // namespace af::cli
