// controld's mark that it runs (requirements 8.3; docs/operations.md
// "Restart escalation", the short cut): a small file beside the ladder's
// counts, written when controld starts supervising and removed when it
// stops in order (SIGTERM: its gatewayd stopped with it) or executes
// itself again for PH2.5 or PH3.0. A mark found at start means the
// previous controld ended without a stop: killed, crashed, or its host
// rebooted or lost power. With no gatewayd of it left running either, the
// whole instance died: controld feeds that to the ladder as instance_dead.
//
// The file holds one line of text, "controld pid <pid>, started <time>",
// written atomically (durable_file.hpp). Whatever it holds (even bytes of
// a torn write), its presence is what counts; nothing here throws.
//
// Thread-safety: none; one owner (controld's io_context).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "control/controld/escalation.hpp"

namespace cg::control {

class run_mark {
public:
    /// Reads what a previous run left at `path`, once.
    explicit run_mark(std::string path);

    /// The previous run's line when it ended without a stop ("controld pid
    /// 812, started 2026-12-07 01:22:57.440"), or "a mark that cannot be
    /// read: <why>"; nullopt after a stop in order or on a first start.
    const std::optional<std::string>& previous() const { return _previous; }
    /// This run's mark; the error's text when it cannot be written.
    std::optional<std::string> set(pid_t pid, wall_time started);
    /// Removes the mark (a stop in order); the error's text when it cannot.
    std::optional<std::string> clear();
    const std::string& path() const { return _path; }

private:
    std::string _path;
    std::optional<std::string> _previous;
};

}  // namespace cg::control
