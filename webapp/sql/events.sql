-- The latest events of one cluster, oldest first (the timeline).
-- Placeholders: {schema}; %(cluster)s, %(limit)s.
SELECT id, node_id, at, term, kind, detail
FROM (
    SELECT id, node_id, at, term, kind, detail
    FROM {schema}.events
    WHERE cluster = %(cluster)s
    ORDER BY at DESC, id DESC
    LIMIT %(limit)s
) latest
ORDER BY at, id
