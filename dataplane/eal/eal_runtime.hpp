// The process-wide EAL: initialised once from the command line eal_args()
// built, with packet capture (dpdk-dumpcap / dpdk-pdump attach as secondary
// processes and cost nothing until they do), and cleaned up on the way out.
//
// Thread-safety: construct and destroy on the main thread only, before any
// lcore is launched and after every lcore has been joined.
#pragma once

#include <string>
#include <vector>

namespace cg::dp {

class eal_runtime {
public:
    /// Runs rte_eal_init(args). Throws std::runtime_error with rte_strerror's
    /// reason when EAL refuses to start.
    explicit eal_runtime(std::vector<std::string> args);
    /// rte_eal_cleanup(): hugepage files and devices released.
    ~eal_runtime();
    eal_runtime(const eal_runtime&) = delete;
    eal_runtime& operator=(const eal_runtime&) = delete;

    /// Starts the capture server; a warning, not an error, when it cannot.
    void enable_capture();
    void disable_capture() noexcept;

private:
    bool _capture = false;
};

}  // namespace cg::dp
