#include "af/db/connection.hpp"

#include <algorithm>
#include <pqxx/pqxx>

namespace af::db {

namespace {
bool has_key(const std::string& conninfo, const std::string& key) {
    // conninfo may be a URI or key=value pairs; both spell keys the same way.
    return conninfo.find(key + "=") != std::string::npos;
}

void add(std::string& s, const std::string& key, const std::string& value) {
    if (has_key(s, key))
        return;
    const bool uri = s.rfind("postgresql://", 0) == 0 || s.rfind("postgres://", 0) == 0;
    if (uri)
        s += (s.find('?') == std::string::npos ? "?" : "&") + key + "=" + value;
    else
        s += " " + key + "=" + value;
}
}  // namespace

std::string with_defaults(const std::string& conninfo, Duration connect_timeout,
                          Duration statement_timeout, const TcpTuning& tcp) {
    std::string s = conninfo;
    // libpq rounds connect_timeout to whole seconds with a 2 s floor.
    const auto secs = std::max<long long>(2, (connect_timeout.count() + 999) / 1000);
    add(s, "connect_timeout", std::to_string(secs));
    add(s, "application_name", "airflow-failover");
    // A dead server or a black-holed network must fail a call in about a TTL, not in the two
    // hours Linux keepalive defaults would take.
    const Duration user_timeout = tcp.user_timeout.count() > 0
                                      ? tcp.user_timeout
                                      : std::max(statement_timeout, Duration{500});
    add(s, "tcp_user_timeout", std::to_string(user_timeout.count()));
    add(s, "keepalives_idle", std::to_string(tcp.keepalive_idle_s));
    add(s, "keepalives_interval", std::to_string(tcp.keepalive_interval_s));
    add(s, "keepalives_count", std::to_string(tcp.keepalive_count));
    return s;
}

std::unique_ptr<pqxx::connection> open_connection(const std::string& conninfo,
                                                  Duration connect_timeout,
                                                  Duration statement_timeout,
                                                  const TcpTuning& tcp) {
    auto c = std::make_unique<pqxx::connection>(
        with_defaults(conninfo, connect_timeout, statement_timeout, tcp));
    pqxx::nontransaction tx(*c);
    tx.exec("SET statement_timeout = " + std::to_string(statement_timeout.count()));
    tx.exec("SET lock_timeout = " + std::to_string(statement_timeout.count()));
    tx.exec("SET idle_in_transaction_session_timeout = 60000");
    return c;
}

std::string QuoteIdentifier::operator()(const std::string& identifier) const {
    return "\"" + identifier + "\"";
}

}  // namespace af::db
