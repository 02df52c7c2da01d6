#pragma once

// The daemon's optional parts (af/ports/optional_parts.hpp) on simulated time: heartbeats over
// a SimNet shared by the nodes of a test, hooks that answer or hang, a takeover that answers
// or hangs, and metrics that count. Each keeps the contract of the real part: a hook run ends
// at its timeout at the latest (the real runner kills it), every takeover request is answered
// at most once, heartbeats carry what the node's status view says.
#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "af/ports/optional_parts.hpp"
#include "sim_clock.hpp"

namespace af::fakes {

class FakeHeartbeats;

/// The UDP network between the nodes' heartbeat services: every datagram reaches every other
/// node after `latency`, unless the sender or the receiver is cut off.
struct SimNet {
    explicit SimNet(SimClock& c) : clock(c) {}
    SimClock& clock;
    Duration latency{1};
    std::map<std::string, FakeHeartbeats*> nodes;
    std::vector<std::string> cut;  ///< nodes whose datagrams are lost both ways
    bool is_cut(const std::string& n) const {
        return std::find(cut.begin(), cut.end(), n) != cut.end();
    }
    void send(const std::string& from, const core::ev::peer_heartbeat& hb);
};

class FakeHeartbeats : public ports::Heartbeats {
  public:
    using SnapshotFn = std::function<core::ev::peer_heartbeat()>;

    FakeHeartbeats(SimNet& net, std::string node, Duration interval, SnapshotFn snapshot,
                   ports::EventSink on_accept)
        : net_(net),
          node_(std::move(node)),
          interval_(interval),
          snapshot_(std::move(snapshot)),
          accept_(std::move(on_accept)),
          timer_(net.clock) {
        net_.nodes[node_] = this;
    }
    ~FakeHeartbeats() override { net_.nodes.erase(node_); }

    void start() { tick(); }
    void send_now(std::uint8_t extra_flags) override {
        ++sent_now;
        send(extra_flags != 0);
    }
    void stop() override {
        stopped = true;
        timer_.cancel();
    }
    nlohmann::json peers_view() const override { return nlohmann::json::object(); }
    nlohmann::json counters() const override { return {{"sent", sent}, {"received", received}}; }

    void deliver(const core::ev::peer_heartbeat& hb) {
        if (stopped)
            return;
        ++received;
        if (accept_)
            accept_(hb);
    }

    bool stopped{false};
    int sent{0};
    int sent_now{0};
    int received{0};

  private:
    void tick() {
        if (stopped)
            return;
        send(false);
        timer_.at(net_.clock.now() + interval_, [this] { tick(); });
    }
    void send(bool releasing) {
        if (stopped)
            return;
        auto hb = snapshot_();
        hb.node = node_;
        hb.releasing = releasing;
        ++sent;
        net_.send(node_, hb);
    }

    SimNet& net_;
    std::string node_;
    Duration interval_;
    SnapshotFn snapshot_;
    ports::EventSink accept_;
    SimTimer timer_;
};

inline void SimNet::send(const std::string& from, const core::ev::peer_heartbeat& hb) {
    if (is_cut(from))
        return;
    for (const auto& entry : nodes)
        if (entry.first != from)
            clock.post(latency, [this, dest = entry.first, hb] {
                if (auto it = nodes.find(dest); it != nodes.end() && !is_cut(dest))
                    it->second->deliver(hb);
            });
}

/// A hook whose runs take `run_time` and end as `outcome`; `hang` makes every run outlast its
/// timeout, so it ends as the real runner ends it: timed_out, at the timeout. `hang_forever`
/// is worse than the real runner can be: no answer at all, so only the daemon's own deadline
/// helps.
class FakeHook : public ports::Hook {
  public:
    FakeHook(SimClock& c, Duration timeout) : clock_(c), timeout_(timeout) {}

    void enqueue(proc::EnvPolicy env, Done done) override {
        calls.push_back(std::move(env));
        queue_.push_back(std::move(done));
        if (queue_.size() == 1)
            run_next();
    }
    /// Blocks the event loop, as the real drain does: the clock moves on meanwhile.
    void drain(Duration budget) override {
        drained += 1;
        if (!queue_.empty())
            clock_.jump(std::min(budget, hang ? timeout_ : run_time));
    }

    bool hang{false};
    bool hang_forever{false};
    Duration run_time{10};
    ports::HookOutcome outcome{ports::HookOutcome::Kind::ok, "exited with status 0"};
    std::vector<proc::EnvPolicy> calls;
    int drained{0};
    bool running() const { return !queue_.empty(); }

  private:
    void run_next() {
        if (hang_forever)
            return;
        const bool hangs = hang || run_time >= timeout_;
        clock_.post(hangs ? timeout_ : run_time, [this, hangs] {
            auto done = std::move(queue_.front());
            queue_.erase(queue_.begin());
            if (done)
                done(hangs
                         ? ports::HookOutcome{ports::HookOutcome::Kind::timed_out,
                                              "killed after the " +
                                                  std::to_string(timeout_.count()) + " ms timeout"}
                         : outcome);
            if (!queue_.empty())
                run_next();
        });
    }

    SimClock& clock_;
    Duration timeout_;
    std::vector<Done> queue_;
};

/// The Airflow takeover: answers after `latency`, or, when `hang`, never answers the statement;
/// a cancellation is answered (as failed) unless `ignore_cancel` (the server never replies).
class FakeTakeover : public ports::Takeover {
  public:
    explicit FakeTakeover(SimClock& c) : clock_(c) {}

    void set_sink(ports::EventSink sink) { sink_ = std::move(sink); }
    void take_over(std::int64_t term, std::string previous_node) override {
        asked.push_back({term, std::move(previous_node)});
        if (hang)
            return;
        answer(latency, {term, true, "closed out 1 job(s) (fake)"});
    }
    void cancel(std::int64_t term) override {
        cancelled.push_back(term);
        if (!ignore_cancel)
            answer(Duration{1}, {term, false, "cancelled at the timeout (fake)"});
    }
    void stop() override { stopped = true; }

    struct Ask {
        std::int64_t term;
        std::string previous;
    };
    std::vector<Ask> asked;
    std::vector<std::int64_t> cancelled;
    Duration latency{20};
    bool hang{false};
    bool ignore_cancel{false};
    bool stopped{false};

  private:
    void answer(Duration after, core::ev::takeover_result r) {
        clock_.post(after, [this, r] {
            if (!stopped && sink_)
                sink_(r);
        });
    }

    SimClock& clock_;
    ports::EventSink sink_;
};

/// Metrics as plain counts.
class FakeMetrics : public ports::Metrics {
  public:
    void observe_renew_latency(Duration) override { ++renewals; }
    void database_error(const std::string& op) override { ++db_errors[op]; }
    void event(const std::string& kind) override { ++events[kind]; }
    void term_won(const std::string&, bool) override { ++terms_won; }
    void process_started(const std::string& name, bool) override { ++starts[name]; }
    void health_check_failed(const std::string& name) override { ++health_failures[name]; }
    void hook_run(const std::string& hook, const std::string& outcome) override {
        ++hook_runs[hook + " " + outcome];
    }

    int renewals{0};
    int terms_won{0};
    std::map<std::string, int> db_errors, events, starts, health_failures, hook_runs;
};

}  // namespace af::fakes
