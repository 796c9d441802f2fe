// A filled escalation_rep (common/ctl_msg.hpp), for the tests of its codec
// and of the console's `show escalation`.
#pragma once

#include "common/ctl_msg.hpp"

namespace cg::test {

inline common::api::escalation_rep sample_escalation() {
    common::api::escalation_rep e;
    e.reached = "PH1.0";
    e.next_rung = "PH2.0";
    e.next_why = "PH1.0 spent (2 of 2 within 2m); PH2.0: recovery 1 of 2 within 10m";
    e.store = "/var/lib/clustergate/gw.escalation";
    e.loaded_from = "the previous copy";
    e.store_problems = {"/var/lib/clustergate/gw.escalation: checksum mismatch"};
    e.healthy_after_ms = 300000;
    e.up_ms = 63000;
    e.rungs = {{"PH0.5", "restart gatewayd alone", true, 3, 60000, 0, 7, "PH0.5"},
               {"PH2.0", "restart with a fresh EAL", false, 2, 600000, 0, 0, "PH1.0"},
               {"auto-heal", "a new instance elsewhere", false, 0, 0, 0, 0, "PH2.0"}};
    e.history = {{1'700'000'000'000, "died", "killed by signal 9 (Killed)", "PH1.0", "PH0.5", "up", 812},
                 {1'700'000'001'000, "exited", "exited with status 1", "PH0.5", "PH0.5", "failed_again", 0}};
    e.counters = {{"fallbacks", 1}};
    e.config = "/etc/clustergate/gw.yaml, as loaded at start: the same as backup 4 (saved 2023-11-14 22:13:20.000 UTC)";
    e.backups_dir = "/etc/clustergate/gw.yaml.backups";
    e.backup_every_ms = 60000;
    e.backups_kept = 10;
    e.backups = {{5, 1'700'000'100'000, 0, "checksum mismatch (stored 00000001, computed 9a3c0b2e)"},
                 {4, 1'700'000'000'000, 1234, ""}};
    return e;
}

}  // namespace cg::test
