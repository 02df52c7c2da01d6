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

namespace af::core {

/// nofailover: a node configured never to compete; it reports and sends heartbeats only.
enum class Role { standby, active, stopping, stopped, nofailover };
const char* to_string(Role r);

enum class ProcState { stopped, running, stopping };
const char* to_string(ProcState s);

/// A warm standby copy of a process (docs/warm-standby.md); it never counts as running.
enum class WarmState { none, starting, ready, stopping };
const char* to_string(WarmState s);

/// The election and supervision logic as a pure state machine: events and the current time in,
/// actions out. No I/O, no clock reads, no threads; the daemon shell does all of that.
///
/// Safety rules it keeps:
///  - processes run only while the locally computed lease deadline (send time of the last good
///    renewal + TTL - margin, on the boot clock) lies ahead;
///  - at deadline - kill_grace every live process is SIGKILLed, checked first on every step, so a
///    step after a long pause kills before it does anything else;
///  - a new lease is tried only when every process is known to be dead.
class Election {
  public:
    Election(ElectionConfig cfg, std::string node_id);

    /// Feed one event at time `now`; returns what the shell must do.
    Ready step(const Event& e, TimePoint now);

    Role role() const;
    std::int64_t term() const { return term_; }
    /// Local (conservative) lease deadline; meaningful while term() != 0.
    TimePoint lease_deadline() const { return lease_deadline_; }
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

    void on(const ev::tick&) {}
    void on(const ev::acquire_result& e);
    void on(const ev::renew_result& e);
    void on(const ev::release_result& e);
    void on(const ev::db_failure& e);
    void on(const ev::lease_hint& e);
    void on(const ev::process_exited& e);
    void on(const ev::process_terminate& e);
    void on(const ev::switchover& e);
    void on(const ev::process_unhealthy& e);
    void on(const ev::peer_heartbeat& e);
    void on(const ev::stop_requested& e);
    void on(const ev::term_floor& e) { seen_term(e.term); }
    void seen_term(std::int64_t t) { highest_term_seen_ = std::max(highest_term_seen_, t); }
    void on(const ev::takeover_result& e);
    void on(const ev::hook_result& e);
    void on(const ev::paused& e);  // core/pause.cpp
    void check_pause_expiry();
    /// Why an operator command is refused while paused ("" when not paused).
    std::string refused_while_paused() const;
    // Warm standby (election_warm.cpp).
    void on(const ev::warm_ready& e);
    void on(const ev::warm_exited& e);
    void on(const ev::warm_stale& e);
    bool want_warm(const Proc& p) const;
    /// Sends go to a ready warm copy instead of a start; false when there is none.
    bool start_warm(const std::string& name, Proc& p);
    void reconcile_warm();
    TimePoint next_warm_wakeup() const;
    void open_gates(const ev::acquire_result& e);
    void check_gates();
    void veto(const std::string& why);
    void check_failback();
    bool heard(const std::string& node) const;
    int rank() const;  ///< healthy standbys heard that rank above us for taking a free lease

    void enforce_deadline();
    void reconcile();
    void reconcile_processes();
    void finish_term();
    TimePoint next_wakeup() const;

    bool holding() const;  ///< have a term and the local deadline is ahead
    bool gated() const { return takeover_pending_ || pre_promote_pending_; }
    bool may_run() const;       ///< holding and nothing but time stands in the way
    bool renewal_late() const;  ///< past deadline - fence_lead: freeze, do not stop
    bool want_processes() const;
    bool all_stopped() const;
    void emit(Action a) { out_.actions.push_back(std::move(a)); }
    void note(std::string kind, std::string detail);
    void give_up_lease(const std::string& kind, const std::string& detail);
    void set_deadline(TimePoint sent_at);

    ElectionConfig cfg_;
    std::string node_id_;
    std::map<std::string, Proc> procs_;

    TimePoint now_{};
    Ready out_;

    std::int64_t term_{0};
    std::int64_t highest_term_seen_{0};  ///< from every lease read, heartbeat and the database
    TimePoint lease_deadline_{};
    bool lease_lost_{false};  ///< the database refused a renewal: someone else may hold it
    bool giving_up_{false};   ///< stop processes and release (hand-over, shutdown, fence)
    bool fenced_{false};      ///< the kill at the deadline has been recorded for this term
    bool renew_failing_{false};
    bool renew_in_flight_{false};
    TimePoint renew_sent_{};
    TimePoint last_renew_sent_{};
    TimePoint next_renew_{};
    bool release_in_flight_{false};
    TimePoint release_sent_{};

    bool acquire_in_flight_{false};
    TimePoint acquire_sent_{};
    TimePoint next_acquire_{};
    TimePoint cooldown_until_{};

    bool stopping_{false};
    bool exited_{false};

    struct Peer {
        TimePoint last_heard{};
        bool active{false};
        bool standby{false};
        bool healthy{false};
        int priority{100};
        std::int64_t term{0};
        TimePoint qualifies_since{TimePoint::max()};  ///< for failback
    };
    std::map<std::string, Peer> peers_;
    std::optional<std::string> watch_holder_;  ///< the active we hear; poll slowly while we do
    std::optional<std::string> reserve_for_;   ///< switchover target for the release

    // Promotion gates of the current term: no process starts while one is pending.
    std::string previous_holder_;  ///< who held the term before ours ("" if unknown or none)
    bool takeover_pending_{false};
    TimePoint takeover_until_{};
    bool pre_promote_pending_{false};
    TimePoint pre_promote_until_{};
    bool promoted_{false};  ///< the gates passed and the processes were wanted in this term

    // Maintenance mode (core/pause.cpp).
    ev::paused pause_;
    TimePoint pause_until_{TimePoint::max()};  ///< local expiry; max: until resume
};

}  // namespace af::core
