#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <pqxx/connection>
#include <string>

#include "af/db/scope.hpp"
#include "af/util/boot_clock.hpp"

namespace af::db {

/// The lease: one row per cluster, taken, renewed and released by single compare-and-set
/// statements that the database judges by its own clock. This file is the whole protocol.
struct AcquireOutcome {
    bool won{false};
    std::int64_t term{0};
    std::optional<std::string> holder;
    Duration remaining{0};  ///< holder's remaining time on the database clock, when lost
    /// When won: the holder of the term before ours ("" if none or not known) and whether that
    /// term was released (else it expired on the database clock).
    std::string previous_holder;
    bool previous_released{false};
    /// When won: the term before ours ended by an accepted switchover (its holder recorded a
    /// `switchover` event in it), so this change of the active was planned, not a failover.
    bool after_switchover{false};
};

/// Makes the session's commits durable before it runs a lease statement: synchronous_commit
/// "off" or "local" (a server or role default) is raised to "on", so a renewal confirmed to the
/// holder survives a crash and restart of the server; "on" and the "remote_*" levels (set for
/// the daemon's role by users with synchronous standbys, docs/operations.md) are kept.
void durable_lease_session(pqxx::connection& c);

class LeaseSql {
  public:
    LeaseSql(Scope scope, std::string node_id);

    /// Takes the lease if it is free or expired; every win increases the term by one (above
    /// `min_term`, the highest term seen elsewhere, so terms only grow).
    AcquireOutcome acquire(pqxx::connection& c, Duration ttl, std::int64_t min_term = 0) const;

    /// Extends our unexpired lease of `term`; false when it is no longer ours.
    bool renew(pqxx::connection& c, std::int64_t term, Duration ttl) const;

    /// Frees our lease of `term` and notifies listeners; false when it was not ours any more.
    /// A non-empty `reserved_for` lets only that node take it during `reservation`.
    bool release(pqxx::connection& c, std::int64_t term, const std::string& reserved_for = "",
                 Duration reservation = Duration{0}) const;

    /// Database fencing for a new term: in one transaction that first re-checks that we hold
    /// `term`, revoke LOGIN from the other nodes' roles and grant it to ours; then end every
    /// session of those roles, so a deposed scheduler cannot write another row. Throws on
    /// failure (the caller gives the lease back).
    void fence(pqxx::connection& c, std::int64_t term,
               const std::map<std::string, std::string>& roles) const;

    /// The NOTIFY channel a release is announced on (the schema name, a valid identifier).
    const std::string& channel() const { return scope_.schema; }

  private:
    Scope scope_;
    std::string node_id_;
    std::string acquire_sql_;
    std::string renew_sql_;
    std::string held_sql_;  ///< our live lease row, locked (fencing)
    std::string release_sql_;
};

}  // namespace af::db
