#pragma once
// Internal to src/db/runtime/db_worker*.cpp: DbWorker's connection and what it listens for. Not a
// public header (it brings in libpqxx, which db_worker.hpp keeps out of the daemon).

#include <memory>
#include <pqxx/connection>
#include <pqxx/notification>
#include <string>
#include <type_traits>

#include "af/db/command_sql.hpp"
#include "af/db/connection_worker.hpp"
#include "af/db/db_worker.hpp"
#include "af/db/lease_sql.hpp"
#include "af/db/renew_timing.hpp"
#include "af/db/state_sql.hpp"

namespace af::db {

/// One LISTEN channel (the schema name) carries "<cluster>:released:<term>:<reserved_for>" from a
/// release, "<cluster>:command:<id>" from the commands trigger and "<cluster>:pause" from the
/// pause table's trigger (pause, resume). A release goes to the core as a hint; the other two
/// bring the matching poll forward on the worker's own queue (called on the worker thread, from
/// get_notifs).
class Listener final : public pqxx::notification_receiver {
  public:
    Listener(pqxx::connection& c, const std::string& channel, const std::string& cluster,
             const DbWorker::Sink& sink, job::Inbox& inbox)
        : pqxx::notification_receiver(c, channel),
          released_(cluster + ":released:"),
          command_(cluster + ":command:"),
          pause_(cluster + ":pause"),
          sink_(sink),
          inbox_(inbox) {}
    void operator()(const std::string& payload, int) override {
        if (payload.rfind(released_, 0) == 0) {
            // "<cluster>:released:<term>:<reserved_for>"
            const auto colon = payload.find(':', released_.size());
            sink_(core::ev::lease_hint{colon == std::string::npos ? std::string()
                                                                  : payload.substr(colon + 1)});
        }
        if (payload.rfind(command_, 0) == 0)
            inbox_.push(job::CheckCommands{});
        if (payload == pause_)
            inbox_.push(job::CheckPause{});
    }

  private:
    std::string released_;
    std::string command_;
    std::string pause_;
    const DbWorker::Sink& sink_;
    job::Inbox& inbox_;
};

/// The main connection and its statements.
struct DbWorker::Impl {
    using Worker = ConnectionWorker<job::Acquire, job::Release, job::Publish, job::FinishCommand,
                                    job::CheckPause, job::CheckCommands, job::Record>;
    static_assert(std::is_same_v<Worker::Inbox, job::Inbox>);

    Impl(const WorkerSettings& s, Worker::Calls calls)
        : lease(s.scope, s.node_id),
          state(s.scope, s.node_id),
          commands(s.scope, s.node_id),
          worker(ConnectionSettings{s.conninfo, s.connect_timeout, main_statement_timeout(s.lease),
                                    TcpTuning{}, true},
                 std::move(calls)) {}

    /// The open connection (worker thread, inside a job or opened()).
    pqxx::connection& conn() { return *worker.conn(); }

    LeaseSql lease;
    StateSql state;
    CommandSql commands;
    Worker worker;
    // The worker thread only; the listener goes before the connection (Calls::closing).
    std::unique_ptr<Listener> listener;
    /// Highest term on record at connect. The core learns it too, but an acquire it queued
    /// before the connection opened still carries its old floor.
    std::int64_t term_floor{0};
};

}  // namespace af::db
