#pragma once

#include <chrono>
#include <cstdint>
#include <pqxx/connection>
#include <string>
#include <vector>

namespace af::airflow {

/// One Airflow job row the takeover step closed out.
struct ClosedJob {
    std::int64_t id{0};
    std::string job_type;
};

/// The takeover step's one statement on Airflow's metadata database: the jobs that a fenced
/// node left `running` are marked `failed`, as Airflow's own orphan check would do minutes
/// later, so the new scheduler's start-up adoption resets their task instances at once.
class TakeoverSql {
  public:
    /// `schema` "" uses the role's search_path; `job_types` are validated names (no commas).
    TakeoverSql(const std::string& schema, std::vector<std::string> job_types);

    /// Marks every `running` job of `hostname` of the configured types `failed` (end_date = the
    /// database clock) that started and last heartbeated before the term began, `term_age` ago
    /// (the database clock at the statement's start minus it); returns them. One autocommit
    /// statement: it commits as it ends, or not at all. Throws on any database error.
    std::vector<ClosedJob> close_out(pqxx::connection& c, const std::string& hostname,
                                     std::chrono::milliseconds term_age) const;

    const std::string& sql() const { return sql_; }

  private:
    std::string sql_;
    std::string job_types_;  ///< comma-separated, passed as one parameter
};

/// "closed 2 job(s) of host-a: SchedulerJob 17, TriggererJob 18" / "no running job of host-a".
std::string describe(const std::vector<ClosedJob>& jobs, const std::string& hostname);

}  // namespace af::airflow
