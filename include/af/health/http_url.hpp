#pragma once

#include <optional>
#include <string>

namespace af::health {

/// An http:// URL as the http health check requests it.
struct HttpUrl {
    std::string host;  ///< a name, an IPv4 address, or an IPv6 address without its brackets
    std::string port;  ///< "80" when the URL has none
    std::string path;  ///< "/" when the URL has none
    /// The Host header: IPv6 literals in brackets, the port when not 80.
    std::string host_header() const;
};

/// The one reading of http://host[:port][/path] (host a name of letters, digits, '.', '-', an
/// IPv4 address, or [IPv6]; port 1-65535), shared by check-config and the health check. None,
/// with the reason in `problem` if given, when it does not parse.
std::optional<HttpUrl> parse_http_url(const std::string& url, std::string* problem = nullptr);

}  // namespace af::health
