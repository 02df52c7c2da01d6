-- Daily mean end price and VWAP of one instrument. Placeholders: {table}; %(isin)s.
SELECT trade_date, mean_end_price, vwap, total_volume, num_trades
FROM {table}
WHERE isin = %(isin)s
ORDER BY trade_date
