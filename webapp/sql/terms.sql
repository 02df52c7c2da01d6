-- The lease's last terms, oldest first, with how each ended and the gap to the next: the
-- daemons' own term_history() (src/db/sql/history_sql.cpp; the same call as
-- `airflow-failover history`). The dashboard's takeovers pair each term with the one before.
-- Placeholders: {schema} (identifier); %(cluster)s, %(terms)s (parameters).
SELECT term, holder, started_at, ended, detail, gap_ms, gap_from_kind, gap_from_at
FROM {schema}.term_history(%(cluster)s, %(terms)s)
