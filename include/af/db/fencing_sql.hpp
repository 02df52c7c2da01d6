#pragma once

#include <map>
#include <pqxx/connection>
#include <string>
#include <utility>

#include "af/db/scope.hpp"

namespace af::db {

/// Database fencing without CREATEROLE for the daemon: `init-db`, run by an administrator,
/// installs a SECURITY DEFINER function per cluster that can change LOGIN of the configured
/// roles only (fencing.database_roles, kept in `<schema>.fencing`, a table of the
/// administrator's) and end their sessions. The function reads nothing the daemon's role owns
/// or can replace (the schema is the administrator's too): the daemon checks it holds the
/// lease itself before calling, and the function refuses a term lower than the highest it has
/// fenced, so a stale caller cannot fence a newer holder. The daemon's role gets EXECUTE.

/// The function's name in the schema for `cluster` (stable: the daemon finds it by name).
std::string fencing_function(const std::string& cluster);

class FencingSql {
  public:
    explicit FencingSql(Scope scope) : scope_(std::move(scope)) {}

    /// Installs (or replaces) the cluster's function and grants EXECUTE to `daemon_role` only.
    /// Throws std::runtime_error naming the role when a configured role is a superuser (a
    /// superuser cannot be fenced) or is `daemon_role` itself, and when the schema (or a table
    /// named `fencing` in it) is not the current role's. Run as a role that may ALTER the
    /// configured roles (CREATEROLE or superuser) and signal their backends.
    void install(pqxx::connection& c, const std::map<std::string, std::string>& roles,
                 const std::string& daemon_role) const;

    /// Whether the cluster's function exists and the current role may execute it.
    bool usable(pqxx::connection& c) const;

  private:
    Scope scope_;
};

}  // namespace af::db
