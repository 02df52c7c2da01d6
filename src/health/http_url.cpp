#include "af/health/http_url.hpp"

#include <boost/asio/ip/address.hpp>
#include <cctype>

namespace af::health {

std::string HttpUrl::host_header() const {
    const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return port == "80" ? h : h + ":" + port;
}

std::optional<HttpUrl> parse_http_url(const std::string& url, std::string* problem) {
    auto fail = [&](const std::string& why) -> std::optional<HttpUrl> {
        if (problem)
            *problem = why;
        return std::nullopt;
    };
    const std::string bad = "\"" + url + "\" is not a URL of the form http://host[:port][/path]";
    const std::string scheme = "http://";
    if (url.rfind(scheme, 0) != 0)
        return fail(bad);
    const std::string rest = url.substr(scheme.size());
    const std::size_t slash = rest.find('/');
    const std::string hostport = rest.substr(0, slash);
    HttpUrl u;
    u.path = slash == std::string::npos ? "/" : rest.substr(slash);
    std::string port;
    if (!hostport.empty() && hostport[0] == '[') {
        const auto close = hostport.find(']');
        if (close == std::string::npos)
            return fail(bad);
        u.host = hostport.substr(1, close - 1);
        boost::system::error_code ec;
        boost::asio::ip::make_address_v6(u.host, ec);
        if (ec || u.host.find('%') != std::string::npos)
            return fail("\"" + url + "\": [" + u.host + "] is not an IPv6 address");
        const std::string after = hostport.substr(close + 1);
        if (!after.empty() && (after[0] != ':' || after.size() == 1))
            return fail(bad);
        port = after.empty() ? "" : after.substr(1);
    } else {
        const auto colon = hostport.find(':');
        u.host = hostport.substr(0, colon);
        if (colon != std::string::npos) {
            port = hostport.substr(colon + 1);
            if (port.empty())
                return fail(bad);
        }
        if (u.host.empty() || u.host.front() == '-' || u.host.front() == '.' ||
            u.host.back() == '-' || u.host.back() == '.')
            return fail(bad);
        for (char ch : u.host)
            if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '-')
                return fail(bad);
    }
    if (!port.empty()) {
        for (char ch : port)
            if (!std::isdigit(static_cast<unsigned char>(ch)))
                return fail(bad);
        if (port.size() > 5 || std::stol(port) < 1 || std::stol(port) > 65535)
            return fail("\"" + url + "\" has port " + port + "; a port is 1-65535");
    }
    u.port = port.empty() ? "80" : port;
    for (char ch : u.path)
        if (std::isspace(static_cast<unsigned char>(ch)) || ch == '#')
            return fail(bad);
    return u;
}

}  // namespace af::health
