-- One row per instrument of the Xetra daily table, for the ticker dropdown.
-- Placeholders: {table} (identifier, possibly schema-qualified).
SELECT isin, max(mnemonic) AS mnemonic, count(*) AS days, max(trade_date) AS last_day
FROM {table}
GROUP BY isin
ORDER BY max(mnemonic), isin
