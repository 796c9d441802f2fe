#include "dataplane/eal/eal_runtime.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_pdump.h>

#include "common/log.hpp"

namespace cg::dp {

eal_runtime::eal_runtime(std::vector<std::string> args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0)
        throw std::runtime_error(fmt::format("EAL initialisation failed: {}", rte_strerror(rte_errno)));
}

eal_runtime::~eal_runtime() {
    disable_capture();
    rte_eal_cleanup();
}

void eal_runtime::enable_capture() {
    if (rte_pdump_init() == 0)
        _capture = true;
    else
        common::log::warn("packet capture (rte_pdump) unavailable: {}", rte_strerror(rte_errno));
}

void eal_runtime::disable_capture() noexcept {
    if (_capture) rte_pdump_uninit();
    _capture = false;
}

}  // namespace cg::dp
