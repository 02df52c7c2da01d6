#include "af/airflow/takeover_sql.hpp"

#include <pqxx/pqxx>

#include "af/db/connection.hpp"

namespace af::airflow {

// Airflow's job table (airflow/jobs/job.py): id, job_type, state, hostname, end_date,
// latest_heartbeat, ... Airflow's own orphan check does the same UPDATE for scheduler jobs whose
// heartbeat is older than scheduler_health_check_threshold; here we know sooner, from the lease,
// that the holder is dead. The hostname and the job types are parameters, never spliced in.
TakeoverSql::TakeoverSql(const std::string& schema, std::vector<std::string> job_types) {
    for (const auto& t : job_types)
        job_types_ += (job_types_.empty() ? "" : ",") + t;
    const std::string table = schema.empty() ? "job" : db::quoted(schema) + ".job";
    sql_ = "UPDATE " + table +
           " SET state = 'failed', end_date = clock_timestamp()"
           " WHERE hostname = $1 AND state = 'running'"
           " AND job_type = ANY (string_to_array($2, ','))"
           // Never a job of this term: a node that re-won its own lease must not fail the
           // scheduler it starts now, nor anything that heartbeated since the term began.
           " AND coalesce(start_date, '-infinity') < statement_timestamp() - $3::bigint *"
           " interval '1 millisecond'"
           " AND coalesce(latest_heartbeat, '-infinity') < statement_timestamp() - $3::bigint *"
           " interval '1 millisecond'"
           " RETURNING id, job_type";
}

std::vector<ClosedJob> TakeoverSql::close_out(pqxx::connection& c, const std::string& hostname,
                                              std::chrono::milliseconds term_age) const {
    pqxx::nontransaction tx(c);
    const pqxx::result r =
        tx.exec_params(sql_, hostname, job_types_, static_cast<long long>(term_age.count()));
    std::vector<ClosedJob> out;
    for (const auto& row : r)
        out.push_back({row[0].as<std::int64_t>(), row[1].as<std::string>()});
    return out;
}

std::string describe(const std::vector<ClosedJob>& jobs, const std::string& hostname) {
    if (jobs.empty())
        return "no running Airflow job of host " + hostname + " to close out";
    std::string s =
        "closed out " + std::to_string(jobs.size()) + " Airflow job(s) of host " + hostname + ":";
    for (std::size_t i = 0; i < jobs.size(); ++i)
        s += (i ? ", " : " ") + jobs[i].job_type + " " + std::to_string(jobs[i].id);
    return s;
}

}  // namespace af::airflow
