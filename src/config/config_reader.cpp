// The strict JSON reading and the value checks shared by every section of the config parser.
#include <algorithm>
#include <cctype>

#include "config_parse.hpp"

namespace af::config::detail {

const char* type_name(const json& j) {
    switch (j.type()) {
        case json::value_t::null:
            return "null";
        case json::value_t::object:
            return "an object";
        case json::value_t::array:
            return "an array";
        case json::value_t::string:
            return "a string";
        case json::value_t::boolean:
            return "a boolean";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
            return "an integer";
        case json::value_t::number_float:
            return "a number with a fraction";
        default:
            return "something else";
    }
}

bool valid_name(const std::string& v) {
    if (v.empty() || v.size() > 63 || !std::isalnum(static_cast<unsigned char>(v[0])))
        return false;
    return std::all_of(v.begin(), v.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.' || ch == '-';
    });
}

bool valid_identifier(const std::string& v) {
    if (v.empty() || v.size() > 63 || std::isdigit(static_cast<unsigned char>(v[0])))
        return false;
    return std::all_of(v.begin(), v.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
    });
}

std::string checked_name(ObjectReader& r, const std::string& k) {
    std::string v = r.string(k);
    if (!valid_name(v))
        throw ConfigError(r.key(k),
                          "must be 1-63 characters of letters, digits, '_', '.', '-' starting "
                          "with a letter or digit, got \"" +
                              v + "\"");
    return v;
}

namespace {

/// postgresql://user:secret@host/db carries a password in its userinfo part.
bool uri_has_password(const std::string& conninfo) {
    for (const char* scheme : {"postgresql://", "postgres://"}) {
        if (conninfo.rfind(scheme, 0) != 0)
            continue;
        const std::string rest = conninfo.substr(std::string(scheme).size());
        const auto at = rest.find('@');
        const auto end = rest.find_first_of("/?");
        if (at == std::string::npos || (end != std::string::npos && at > end))
            return false;
        return rest.substr(0, at).find(':') != std::string::npos;
    }
    return false;
}

}  // namespace

void check_no_password(const std::string& key, const std::string& conninfo) {
    if (conninfo.find("password") != std::string::npos || uri_has_password(conninfo))
        throw ConfigError(key, "must not contain a password; use PGPASSFILE or PGPASSWORD");
}

bool valid_hostname(const std::string& h) {
    return !h.empty() && h.size() <= 255 && std::all_of(h.begin(), h.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_';
    });
}

std::vector<std::string> string_array(ObjectReader& r, const std::string& k) {
    const json& a = r.require(k);
    if (!a.is_array() || a.empty())
        throw ConfigError(r.key(k), "must be a non-empty array of strings");
    std::vector<std::string> out;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (!a[i].is_string())
            throw ConfigError(r.key(k) + "[" + std::to_string(i) + "]",
                              std::string("must be a string, got ") + type_name(a[i]));
        out.push_back(a[i].get<std::string>());
    }
    return out;
}

std::pair<std::string, unsigned short> parse_endpoint(const std::string& key,
                                                      const std::string& text) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
        throw ConfigError(key, "must be HOST:PORT, got \"" + text + "\"");
    std::string host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    const std::string port_text = text.substr(colon + 1);
    if (port_text.find_first_not_of("0123456789") != std::string::npos || port_text.size() > 5)
        throw ConfigError(key, "has a bad port in \"" + text + "\"");
    const long port = std::stol(port_text);
    if (port < 1 || port > 65535)
        throw ConfigError(key, "port must be 1-65535, got " + port_text);
    return {host, static_cast<unsigned short>(port)};
}

}  // namespace af::config::detail
