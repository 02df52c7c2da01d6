#pragma once

namespace af::guard {

/// The guard process (`airflow-failover guard`, started by the daemon with its command pipe as
/// fd 3). It outlives a stopped or killed daemon: when the deadline passes without extension it
/// SIGKILLs the process groups; when the pipe closes (the daemon died) it kills them, waits
/// until they are gone and releases the lease so that a standby takes over at once.
int guard_main(int fd);

}  // namespace af::guard
