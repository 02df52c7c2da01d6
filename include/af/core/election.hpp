#pragma once

#include <algorithm>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "af/core/election_action.hpp"
#include "af/core/election_config.hpp"
#include "af/core/election_event.hpp"
#include "af/core/event_kind.hpp"
#include "af/core/role.hpp"

namespace af::core {

enum class ProcState { stopped, running, stopping };
const char* to_string(ProcState s);

/// A warm standby copy of a process (docs/warm-standby.md); it never counts as running.
enum class WarmState { none, starting, ready, stopping };

/// The election and supervision logic as a pure state machine: events and the current time in,
/// actions out. No I/O, no clock reads, no threads; the daemon shell does all of that.
///
/// Safety rules it keeps:
///  - processes run only while the locally computed lease deadline (send time of the last good
///    renewal + TTL - margin, on the boot clock) lies ahead;
///  - at deadline - kill_grace every live process is SIGKILLed, checked first on every step, so a
///    step after a long pause kills before it does anything else;
///  - a new lease is tried only when every process is known to be dead.
///
/// The member functions are spread over files by concern: election.cpp (step, deadline,
/// wake-ups), election_lease.cpp (acquire, renew, release), election_gates.cpp (promotion
/// gates), election_peers.cpp (heartbeats, rank, failback), election_requests.cpp (operator
/// requests, shutdown), election_processes.cpp, election_warm.cpp and pause.cpp.
class Election {
  public:
    Election(ElectionConfig cfg, std::string node_id);

    /// Feed one event at time `now`; returns what the shell must do.
    Ready step(const Event& e, TimePoint now);

    Role role() const;
    std::int64_t term() const { return term_.id; }
    /// Local (conservative) lease deadline; meaningful while term() != 0.
    TimePoint lease_deadline() const { return term_.deadline; }
    ProcState process_state(const std::string& name) const;
    /// Maintenance mode is on (and has not expired on the local clock).
    bool paused() const { return pause_.on && now_ < pause_until_; }
    const ev::paused& pause() const { return pause_; }
    WarmState warm_state(const std::string& name) const;
    bool any_process_alive() const;

  private:
    struct Proc {
        ProcessPolicy policy;
        ProcState state{ProcState::stopped};
        bool killed{false};
        bool frozen{false};          ///< SIGSTOPped by us while a renewal is late
        bool count_as_crash{false};  ///< killed for failing its health check
        TimePoint kill_at{TimePoint::max()};
        TimePoint restart_at{};
        std::deque<TimePoint> crashes;
        WarmState warm{WarmState::none};
        TimePoint warm_since{};     ///< when the warm copy was started (its code's age)
        TimePoint warm_retry_at{};  ///< after an unexpected end, not before this
        std::size_t warm_failures{0};
    };

    /// Everything that belongs to one term of this node. It starts as a whole when a term is
    /// won and is dropped as a whole when the term ends (begin_term, finish_term): no member can
    /// be forgotten on either path. id == 0: no term.
    struct TermState {
        std::int64_t id{0};
        TimePoint deadline{};    ///< local lease deadline (send time + TTL - margin)
        bool lease_lost{false};  ///< the database refused a renewal: someone else may hold it
        bool giving_up{false};   ///< stop processes and release (hand-over, shutdown, fence)
        bool fenced{false};      ///< the kill at the deadline has been recorded
        bool renew_failing{false};
        bool renew_in_flight{false};
        TimePoint renew_sent{};
        TimePoint next_renew{};
        bool release_in_flight{false};
        TimePoint release_sent{};
        std::optional<std::string> reserve_for;  ///< switchover target for the release
        // Promotion gates: no process starts while one is pending.
        std::string previous_holder;  ///< who held the term before ours ("" if unknown/none)
        bool takeover_pending{false};
        TimePoint takeover_until{};
        /// The answer did not come in time and act::cancel_takeover went out: the statement may
        /// still commit until its answer comes, so nothing starts before it (issue 22).
        bool takeover_cancelled{false};
        bool pre_promote_pending{false};
        TimePoint pre_promote_until{};
        bool promoted{false};  ///< the gates passed and the processes were wanted
    };

    struct Peer {
        TimePoint last_heard{};
        bool active{false};
        bool standby{false};
        bool healthy{false};
        int priority{100};
        std::int64_t term{0};
        TimePoint qualifies_since{TimePoint::max()};  ///< for failback
        bool term_ignored{false};  ///< its term was out of bound; recorded once until it is not
    };

    // election_lease.cpp
    void on(const ev::tick&) {}
    void on(const ev::acquire_result& e);
    void on(const ev::renew_result& e);
    void on(const ev::release_result& e);
    void on(const ev::db_failure& e);
    void on(const ev::lease_hint& e);
    void on(const ev::term_floor& e) { seen_term(e.term); }
    /// A term read from the database (lease row, events, node rows): trusted.
    void seen_term(std::int64_t t) {
        known_term_ = std::max(known_term_, t);
        highest_term_seen_ = std::max(highest_term_seen_, t);
    }
    void peer_term(const std::string& node, Peer& p, std::int64_t term);
    void begin_term(std::int64_t id, TimePoint sent_at);
    void finish_term();
    void set_deadline(TimePoint sent_at);
    void reconcile_renewal();
    void reconcile_release();
    void reconcile_acquire();
    // election_processes.cpp
    void on(const ev::process_exited& e);
    void on(const ev::process_unhealthy& e);
    void reconcile_processes();
    // election_requests.cpp: operator commands and shutdown
    void on(const ev::process_terminate& e);
    void on(const ev::process_restart& e);
    void on(const ev::switchover& e);
    void on(const ev::stop_requested& e);
    /// Give the lease up: stop the processes, release (to `to`, if set), then stay out for the
    /// hand-over cooldown.
    void hand_over(std::optional<std::string> to = std::nullopt);
    // election_peers.cpp
    void on(const ev::peer_heartbeat& e);
    bool heard(const std::string& node) const;
    int rank() const;  ///< healthy standbys heard that rank above us for taking a free lease
    void check_failback();
    // election_gates.cpp
    void on(const ev::takeover_result& e);
    void on(const ev::hook_result& e);
    void open_gates(const ev::acquire_result& e);
    void check_gates();
    void veto(const std::string& why);
    // pause.cpp
    void on(const ev::paused& e);
    void check_pause_expiry();
    /// Why an operator command is refused while paused ("" when not paused).
    std::string refused_while_paused() const;
    // election_warm.cpp
    void on(const ev::warm_ready& e);
    void on(const ev::warm_exited& e);
    void on(const ev::warm_stale& e);
    bool want_warm(const Proc& p) const;
    /// Sends go to a ready warm copy instead of a start; false when there is none.
    bool start_warm(const std::string& name, Proc& p);
    void reconcile_warm();
    TimePoint next_warm_wakeup() const;

    // election.cpp
    void enforce_deadline();
    void reconcile();
    TimePoint next_wakeup() const;

    bool holding() const;  ///< have a term and the local deadline is ahead
    bool gated() const { return term_.takeover_pending || term_.pre_promote_pending; }
    bool may_run() const;       ///< holding and nothing but time stands in the way
    bool renewal_late() const;  ///< past deadline - fence_lead: freeze, do not stop
    bool want_processes() const;
    bool all_stopped() const;
    void emit(Action a) { out_.actions.push_back(std::move(a)); }
    void note(EventKind kind, std::string detail);

    ElectionConfig cfg_;
    std::string node_id_;
    std::map<std::string, Proc> procs_;

    TimePoint now_{};
    Ready out_;

    TermState term_;
    std::int64_t known_term_{0};         ///< the highest read from the database
    std::int64_t highest_term_seen_{0};  ///< known_term_ and the peers' terms within the bound

    bool acquire_in_flight_{false};
    TimePoint acquire_sent_{};
    TimePoint next_acquire_{};
    /// Until then a lease hint moves nothing: any database role can NOTIFY a forged release
    /// (issue 22), so hints bring an acquire forward once per poll interval at most.
    TimePoint hint_quiet_until_{};
    TimePoint cooldown_until_{};

    bool stopping_{false};
    bool exited_{false};

    std::map<std::string, Peer> peers_;
    std::optional<std::string> watch_holder_;  ///< the active we hear; poll slowly while we do

    // Maintenance mode (core/pause.cpp).
    ev::paused pause_;
    TimePoint pause_until_{TimePoint::max()};  ///< local expiry; max: until resume
};

/// The pause before restart number `crashes` (1-based): doubling from the initial backoff, capped.
Duration restart_backoff(const SupervisionPolicy& s, std::size_t crashes);

}  // namespace af::core
