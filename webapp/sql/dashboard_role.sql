-- The dashboard's role on the Xetra prices table: SELECT, nothing else. Its rights on the
-- daemons' schema come from the daemon's own `airflow-failover init-db --dashboard-role ROLE`
-- (src/cli/init_db_cmd.cpp), next to the schema they are about.
-- Apply with `python -m webapp grant-role --role NAME` (creates the role if missing), or render
-- it for psql with `... --print`.
-- Placeholders: {role_literal}, {prices_regclass} (literals).
-- The Xetra table is created by the pipeline's first load; run this again after it if it is
-- absent now (the dashboard shows "no price data" meanwhile).
DO $grant$
BEGIN
    IF to_regclass({prices_regclass}) IS NOT NULL THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I',
                       (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE c.oid = to_regclass({prices_regclass})),
                       {role_literal});
        EXECUTE format('GRANT SELECT ON %s TO %I', to_regclass({prices_regclass}), {role_literal});
    END IF;
END
$grant$;
