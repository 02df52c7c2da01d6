#include "af/db/history_sql.hpp"

#include <pqxx/pqxx>

#include "af/db/connection.hpp"

namespace af::db {

// The history of the lease's terms (`history`, the dashboard's takeovers, the demo's failovers).
// Each term of the cluster's last p_terms, oldest first: who held it, how it ended (the holder's
// most telling record of that term; a switchover or terminate wins over the plain release that
// follows it) and the gap until the next term began, measured from the release (or the ending
// record). A term with no recorded end is 'expired' and its gap an upper bound, from the
// holder's last record. Records a holder writes after the next term began count only if they
// are its release or the request that caused it (switchover, terminate: noted in the step that
// hands over, before the release, but their rows can land after the next term's first row):
// anything else (a frozen holder waking up fenced) came after its lease had expired. STABLE and
// SECURITY INVOKER: whoever may read the events may call it.
const char* term_history_migration() {
    return R"sql(
CREATE FUNCTION {s}.term_history(p_cluster text, p_terms integer)
    RETURNS TABLE (term bigint, holder text, started_at timestamptz, ended_at timestamptz,
                   ended text, detail text, gap_ms double precision, gap_is_upper_bound boolean,
                   gap_from_kind text, gap_from_at timestamptz, previous_holder text,
                   previous_term bigint)
    LANGUAGE sql STABLE AS $$
WITH ev AS (
    SELECT e.id, e.node_id, e.at, e.term, e.kind, e.detail FROM {s}.events e
    WHERE e.cluster = p_cluster AND e.id >= coalesce((
        SELECT min(w.id) FROM (SELECT b.id FROM {s}.events b
                               WHERE b.cluster = p_cluster AND b.kind = 'became_active'
                               ORDER BY b.id DESC LIMIT p_terms) w), 0)
), endings (kind, name, rank) AS (
    VALUES ('terminate_requested', 'terminate', 1), ('daemon_died', 'daemon died', 2),
           ('switchover', 'switchover', 3), ('failback', 'failback', 4),
           ('crash_loop', 'crash loop', 5), ('fenced', 'fenced', 6),
           ('lease_lost', 'lease lost', 7), ('shutdown', 'released', 8),
           ('released', 'released', 9), ('stepped_down', 'released', 10)
), starts AS (
    SELECT ev.id, ev.node_id, ev.at, ev.term, lead(ev.at) OVER w AS next_at,
           lag(ev.node_id) OVER w AS previous_holder, lag(ev.term) OVER w AS previous_term
    FROM ev WHERE ev.kind = 'became_active'
    WINDOW w AS (ORDER BY ev.id)
), own AS (
    SELECT s.id AS start_id, e.id, e.at, e.kind, e.detail
    FROM starts s JOIN ev e ON e.id > s.id AND e.node_id = s.node_id AND e.term = s.term
    WHERE s.next_at IS NULL OR e.at <= s.next_at
       OR e.kind IN ('released', 'stepped_down', 'switchover', 'terminate_requested')
), t AS (
    SELECT s.*, fin.name AS fin_name, fin.detail AS fin_detail,
           coalesce(rel.at, fin.at) AS end_at, coalesce(rel.kind, fin.kind) AS end_kind,
           coalesce(lst.at, s.at) AS last_at, coalesce(lst.kind, 'became_active') AS last_kind
    FROM starts s
    LEFT JOIN LATERAL (SELECT o.at, o.kind, o.detail, x.name FROM own o
                       JOIN endings x ON x.kind = o.kind
                       WHERE o.start_id = s.id ORDER BY x.rank, o.id LIMIT 1) fin ON true
    -- "released" is the moment the next node could win; "stepped_down" follows it in the
    -- same step (and stands alone when the lease was lost instead)
    LEFT JOIN LATERAL (SELECT o.at, o.kind FROM own o
                       WHERE o.start_id = s.id AND o.kind IN ('released', 'stepped_down')
                       ORDER BY o.kind = 'released' DESC,
                                CASE WHEN o.kind = 'released' THEN -o.id ELSE o.id END
                       LIMIT 1) rel ON true
    LEFT JOIN LATERAL (SELECT o.at, o.kind FROM own o
                       WHERE o.start_id = s.id ORDER BY o.id DESC LIMIT 1) lst ON true
)
SELECT t.term, t.node_id, t.at,
       CASE WHEN t.fin_name IS NOT NULL THEN t.end_at END,
       CASE WHEN t.fin_name IS NOT NULL THEN t.fin_name
            WHEN t.next_at IS NOT NULL THEN 'expired' ELSE 'active' END,
       CASE WHEN t.fin_name IS NOT NULL THEN t.fin_detail
            WHEN t.next_at IS NOT NULL
            THEN 'no end recorded: the holder''s lease ran out (host lost or frozen?)'
            ELSE '' END,
       CASE WHEN t.next_at IS NOT NULL
            THEN greatest(0, extract(epoch FROM t.next_at - CASE WHEN t.fin_name IS NOT NULL
                                                                 THEN t.end_at ELSE t.last_at END)
                             * 1000)::double precision END,
       t.fin_name IS NULL AND t.next_at IS NOT NULL,
       CASE WHEN t.fin_name IS NOT NULL THEN t.end_kind ELSE t.last_kind END,
       CASE WHEN t.fin_name IS NOT NULL THEN t.end_at ELSE t.last_at END,
       t.previous_holder, t.previous_term
FROM t ORDER BY t.id
$$;
)sql";
}

std::vector<history::Term> HistorySql::read(pqxx::connection& c, int terms) const {
    const std::string& schema = scope_.schema;
    const std::string& cluster = scope_.cluster;
    const char* iso = "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'";
    pqxx::read_transaction tx(c);
    const auto rows =
        tx.exec_params(std::string("SELECT term, holder, to_char(started_at AT TIME ZONE 'UTC', ") +
                           iso + "), to_char(ended_at AT TIME ZONE 'UTC', " + iso +
                           "), ended, detail, gap_ms, gap_is_upper_bound FROM " + quoted(schema) +
                           ".term_history($1, $2)",
                       cluster, terms);
    std::vector<history::Term> out;
    out.reserve(rows.size());
    for (const auto& r : rows) {
        history::Term t;
        t.term = r[0].as<std::int64_t>();
        t.holder = r[1].as<std::string>();
        t.start = r[2].as<std::string>();
        if (!r[3].is_null())
            t.end = r[3].as<std::string>();
        t.ended = r[4].as<std::string>();
        t.detail = r[5].as<std::string>();
        if (!r[6].is_null())
            t.gap_ms = r[6].as<double>();
        t.gap_is_upper_bound = r[7].as<bool>();
        out.push_back(std::move(t));
    }
    return out;
}

}  // namespace af::db
