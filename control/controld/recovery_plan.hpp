// What controld does for a rung of the escalation ladder (escalation.hpp
// decides the rung; docs/operations.md "Restart escalation" has the table
// and why). Pure: controld's supervision (controld.cpp) reads the plan and
// carries it out; the unit tests read it as a table.
//
// Every rung gives the new gatewayd the nodes' connections back (shadow
// tables, conn_restore.hpp) before it forwards; the rungs differ in what
// else is thrown away first:
//
//   PH0.5  nothing: the new gatewayd keeps what it built from the file,
//          patched by a diff (table_sync.hpp resync) into the running
//          configuration (the tables as controld last read them, run-time
//          edits and weights included)
//   PH1.0  what the new gatewayd built itself: every table deleted and
//          rebuilt whole from the running configuration (rebuild), its
//          connection table only from the nodes' shadow tables
//   PH2.0  and the middleware's: gatewayd's EAL runtime directory and
//          hugepage files (its own file prefix only) removed, so that EAL
//          and the ports start from nothing
//   PH2.5  and controld's: controld saves its counts and re-executes itself;
//          the new controld starts gatewayd as at boot (as PH2.0)
//   PH3.0  and the current configuration file: replaced by the newest good
//          backup that differs from it and loads, else by the initial file
//          (config_backups.hpp), then as PH2.5. With neither, controld
//          says so and applies PH2.5.
//
//   auto-heal  in a gateway pair with a pool (manager.pair.pool): this
//          gateway leaves the pair for good (retired, gatewayd not started
//          again) and a pool host is started as the peer's new backup
//          (pair_peer.hpp). Without a pool it gets PH2.0 instead, the
//          widest recovery that keeps this controld, so that its pause
//          between deaths in a row (supervisor.hpp) still holds a crash
//          loop back.
//
// Thread-safety: pure functions.
#pragma once

#include "control/controld/escalation.hpp"

namespace cg::control {

struct recovery_plan {
    rung applied = rung::ph0_5;     ///< the rung carried out: the decided one, or the one in its place
    bool rebuild_tables = false;    ///< rebuild every table whole (else patch the differences)
    bool fresh_eal = false;         ///< remove its EAL runtime directory and hugepage files before the start
    bool restart_controld = false;  ///< controld re-executes itself, and the new one starts gatewayd
    bool from_backup = false;       ///< the configuration file replaced by a backup first
    bool elsewhere = false;         ///< auto-heal: a pool host in this gateway's place, nothing restarted here
    friend bool operator==(const recovery_plan&, const recovery_plan&) = default;
};

/// The plan for a failure the ladder decided `decided` for; `pool`: this
/// controld runs a gateway pair with an auto-heal pool.
recovery_plan plan_for(rung decided, bool pool = false);

}  // namespace cg::control
