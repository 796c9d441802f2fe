// The gateway's counters on DPDK's telemetry socket, so that
// `dpdk-telemetry.py -f cg-<name>` reads them next to DPDK's own
// (/ethdev/stats, ...). Read-only: /clustergate/info, /drops, /connections,
// /control, /nodes.
//
// Thread-safety: the callbacks run on EAL's telemetry thread and ask the
// controller through its API, like any other client.
#pragma once

namespace cg::dp {

class controller;

/// Registers the commands (once per process) and points them at `ctl`.
void telemetry_attach(controller& ctl);
/// From now on the commands answer an error; call before `ctl` goes away.
void telemetry_detach();

}  // namespace cg::dp
