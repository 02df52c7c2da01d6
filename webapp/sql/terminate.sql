-- The terminate command: kill the active node's scheduler (target NULL = its first managed
-- process); the active daemon executes it and hands the lease over. Written only if the lease
-- is still held by the node and term the user confirmed, so a late confirmation can never
-- hit a node that took over in the meantime, and bound to that holder and term (for_holder,
-- for_term): should the node lose the lease before carrying it out, the next holder closes it
-- as stale instead of killing its own scheduler. No RETURNING: the dashboard role may only
-- INSERT into commands, not read them.
-- Placeholders: {schema}; %(cluster)s, %(requested_by)s, %(holder)s, %(term)s.
INSERT INTO {schema}.commands (cluster, kind, target, requested_by, for_holder, for_term)
SELECT %(cluster)s, 'terminate', NULL, %(requested_by)s, holder, term
FROM {schema}.lease
WHERE cluster = %(cluster)s
  AND holder = %(holder)s
  AND term = %(term)s
  AND expires_at > clock_timestamp()
