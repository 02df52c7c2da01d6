#include "af/db/history_sql.hpp"

#include <pqxx/pqxx>

#include "af/db/connection.hpp"

namespace af::db {

std::vector<history::Event> read_history_events(pqxx::connection& c, const std::string& schema,
                                                const std::string& cluster, int terms) {
    const std::string t = quoted(schema) + ".events";
    pqxx::read_transaction tx(c);
    const auto rows = tx.exec_params(
        "SELECT node_id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"
        " extract(epoch FROM at) * 1000, term, kind, detail FROM " +
            t + " WHERE cluster = $1 AND id >= coalesce((SELECT min(id) FROM (SELECT id FROM " + t +
            " WHERE cluster = $1 AND kind = 'became_active' ORDER BY id DESC LIMIT $2) last), 0)"
            " ORDER BY id",
        cluster, terms);
    std::vector<history::Event> out;
    out.reserve(rows.size());
    for (const auto& r : rows)
        out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<double>(),
                       r[3].as<std::int64_t>(), r[4].as<std::string>(), r[5].as<std::string>()});
    return out;
}

}  // namespace af::db
