#pragma once

#include "af/daemon/status_view.hpp"
#include "af/metrics/http_server.hpp"
#include "af/metrics/metrics.hpp"
#include "af/net/heartbeat_service.hpp"
#include "af/ports/lease_store.hpp"
#include "af/ports/process_control.hpp"

namespace af::daemon {

/// The status view as each reader wants it. `hb` is null when heartbeats are off.
net::HeartbeatService::Snapshot heartbeat_snapshot(const StatusView& v,
                                                   const ports::StoreCounters& store,
                                                   TimePoint now);
metrics::Snapshot metrics_snapshot(const StatusView& v, const ports::StoreCounters& store,
                                   const net::HeartbeatService* hb, TimePoint now);
/// /healthz (need_active: /healthz/active): 200 when healthy (and active), else 503.
metrics::HttpServer::Response healthz(const StatusView& v, TimePoint now, bool need_active);
ports::NodeRow node_row(const StatusView& v, const ports::ProcessControl& procs,
                        const ports::StoreCounters& store, const ports::Heartbeats* hb,
                        int priority);

}  // namespace af::daemon
