#include "af/net/heartbeat_service.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <cerrno>
#include <cstring>

#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>

namespace af::net {

using boost::asio::ip::udp;

Key load_key(const config::HeartbeatConfig& cfg) {
    if (cfg.insecure)
        return {};
    // A key others can read lets them forge heartbeats: refuse it, before reading a byte.
    struct stat st {};
    if (stat(cfg.secret_file.c_str(), &st) == 0 && (st.st_mode & 0077)) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        throw config::ConfigError("heartbeat.secret_file",
                                  cfg.secret_file + " has mode " + mode +
                                      ": group or others may read or write it; make it private "
                                      "to the daemon's user (chmod 600 " +
                                      cfg.secret_file + ")");
    }
    // A directory opens as a stream and then throws from deep inside the read: name it here.
    if (stat(cfg.secret_file.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
        throw config::ConfigError("heartbeat.secret_file",
                                  cfg.secret_file + " is not a regular file");
    errno = 0;
    std::ifstream in(cfg.secret_file, std::ios::binary);
    if (!in)
        throw config::ConfigError("heartbeat.secret_file",
                                  "cannot read " + cfg.secret_file +
                                      (errno != 0 ? ": " + std::string(std::strerror(errno)) : ""));
    Key key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r'))
        key.pop_back();
    if (key.size() < 32)
        throw config::ConfigError("heartbeat.secret_file",
                                  cfg.secret_file + " holds " + std::to_string(key.size()) +
                                      " bytes; a key needs at least 32 (e.g. openssl rand -hex "
                                      "32 > FILE)");
    return key;
}

namespace {
boost::asio::ip::address plain(const boost::asio::ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
    return a;
}

udp::endpoint resolve(boost::asio::io_context& io, const std::string& host, unsigned short port,
                      const std::string& key) {
    boost::system::error_code ec;
    const auto addr = boost::asio::ip::make_address(host, ec);
    if (!ec)
        return {addr, port};
    udp::resolver r(io);
    const auto res = r.resolve(udp::v4(), host, std::to_string(port), ec);
    if (ec || res.empty())
        throw config::ConfigError(key, "cannot resolve " + host + ": " + ec.message());
    return *res.begin();
}
}  // namespace

HeartbeatService::HeartbeatService(boost::asio::io_context& io, config::HeartbeatConfig cfg,
                                   std::string cluster, std::string node_id, int priority, Key key,
                                   SnapshotFn snapshot, AcceptFn on_accept)
    : io_(io),
      cfg_(std::move(cfg)),
      cluster_(std::move(cluster)),
      node_id_(std::move(node_id)),
      priority_(priority),
      key_(std::move(key)),
      snapshot_(std::move(snapshot)),
      on_accept_(std::move(on_accept)),
      socket_(io),
      timer_(io),
      tracker_([&] {
          std::set<std::string> ids;
          for (const auto& [id, ep] : cfg_.peers)
              ids.insert(id);
          return ids;
      }()) {
    for (const auto& [id, hp] : cfg_.peers) {
        peers_[id] = resolve(io_, hp.first, hp.second, "heartbeat.peers." + id);
        senders_.insert(plain(peers_[id].address()));
    }
}

void HeartbeatService::start() {
    const udp::endpoint local =
        resolve(io_, cfg_.listen_host, cfg_.listen_port, "heartbeat.listen");
    boost::system::error_code ec;
    socket_.open(local.protocol(), ec);
    if (!ec) {
        // Close-on-exec: managed processes must not inherit the heartbeat socket.
        const int fd = socket_.native_handle();
        fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
        socket_.bind(local, ec);
    }
    if (ec)
        throw config::ConfigError("heartbeat.listen", "cannot bind " + cfg_.listen_host + ":" +
                                                          std::to_string(cfg_.listen_port) + ": " +
                                                          ec.message());
    spdlog::info("heartbeats: listening on {}:{}, {} peer(s), every {} ms{}", cfg_.listen_host,
                 cfg_.listen_port, peers_.size(), cfg_.interval.count(),
                 key_.empty() ? ", UNAUTHENTICATED (insecure: true)" : ", HMAC-SHA256");
    do_receive();
    do_send_timer();
}

void HeartbeatService::stop() {
    stopped_ = true;
    timer_.cancel();
    boost::system::error_code ec;
    socket_.close(ec);
}

void HeartbeatService::send_all(std::uint8_t extra_flags) {
    const Snapshot s = snapshot_();
    for (const auto& [node, n] : s.peer_incarnations)
        tracker_.raise_floor(node, n);
    // The incarnation comes from the database, where it only grows; until this node has
    // registered there it has none, and says nothing rather than something replayable.
    if (s.incarnation == 0)
        return;
    Heartbeat hb;
    hb.cluster = cluster_;
    hb.node_id = node_id_;
    hb.incarnation = s.incarnation;
    hb.seq = ++seq_;
    hb.role = s.role;
    hb.priority = static_cast<std::uint8_t>(priority_);
    hb.flags = static_cast<std::uint8_t>(s.flags | extra_flags);
    hb.term = s.term;
    hb.lease_remaining_ms = s.lease_remaining_ms;
    const auto bytes = encode(hb, key_);
    for (const auto& [id, ep] : peers_) {
        boost::system::error_code ec;
        socket_.send_to(boost::asio::buffer(bytes), ep, 0, ec);
        // An unreachable peer is normal (it may be down); count, do not log each time.
        if (ec)
            ++send_errors_;
        else
            ++sent_;
    }
}

void HeartbeatService::send_now(std::uint8_t extra_flags) {
    if (!stopped_ && socket_.is_open())
        send_all(extra_flags);
}

void HeartbeatService::do_send_timer() {
    if (stopped_)
        return;
    send_all(0);
    timer_.expires_after(cfg_.interval);
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec)
            do_send_timer();
    });
}

void HeartbeatService::do_receive() {
    socket_.async_receive_from(
        boost::asio::buffer(buf_), from_,
        [this](const boost::system::error_code& ec, std::size_t n) {
            if (ec == boost::asio::error::operation_aborted || stopped_)
                return;
            if (!ec && !senders_.count(plain(from_.address()))) {
                ++dropped_[DropReason::unknown_sender];
            } else if (!ec) {
                // Anything above the maximum arrives whole in our larger buffer and is dropped.
                const auto r =
                    decode(std::span<const std::uint8_t>(buf_.data(), n), key_, cluster_);
                std::optional<DropReason> drop;
                if (!r.heartbeat)
                    drop = r.reason;
                else
                    drop = tracker_.admit(*r.heartbeat, boot_clock::now());
                if (drop) {
                    ++dropped_[*drop];
                    spdlog::debug("heartbeat from {} dropped: {}", from_.address().to_string(),
                                  to_string(*drop));
                } else {
                    ++received_;
                    on_accept_(*r.heartbeat);
                }
            }
            do_receive();
        });
}

HeartbeatService::Counters HeartbeatService::counts() const {
    Counters c{.sent = sent_, .received = received_, .send_errors = send_errors_, .dropped = {}};
    for (auto reason : k_all_drop_reasons) {
        auto it = dropped_.find(reason);
        c.dropped[to_string(reason)] = it == dropped_.end() ? 0 : it->second;
    }
    return c;
}

nlohmann::json HeartbeatService::counters() const {
    const Counters c = counts();
    return {{"sent", c.sent},
            {"received", c.received},
            {"send_errors", c.send_errors},
            {"dropped", c.dropped}};
}

std::map<std::string, HeartbeatService::PeerView> HeartbeatService::peers() const {
    std::map<std::string, PeerView> out;
    const TimePoint now = boot_clock::now();
    const Duration silent_after = cfg_.interval * cfg_.miss_count;
    for (const auto& [id, p] : tracker_.peers()) {
        PeerView& v = out[id];
        if (!p.heard)
            continue;
        const auto age = std::chrono::duration_cast<Duration>(now - p.last_heard);
        v.heard = age < silent_after;
        v.age = age;
        v.role = p.last.role;
        v.term = p.last.term;
    }
    return out;
}

nlohmann::json HeartbeatService::peers_view() const {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [id, p] : peers()) {
        if (!p.age) {
            j[id] = {{"heard", false}};
            continue;
        }
        j[id] = {{"heard", p.heard},
                 {"age_ms", p.age->count()},
                 {"role", to_string(p.role)},
                 {"term", p.term}};
    }
    return j;
}

}  // namespace af::net
