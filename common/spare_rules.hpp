// The spares table between its two forms: as configured (spare_cfg, an
// offset) and as the control API carries it (api::spare_rule, the first
// spare). One conversion each way, for gatewayd's views and edits and the
// console's `set spare`.
#pragma once

#include "common/config.hpp"
#include "common/ctl_msg.hpp"

namespace cg::common {

inline api::spare_rule rule_of(const spare_cfg& s) {
    return {s.first, s.last, static_cast<ipv4_addr>(std::int64_t{s.first} + s.offset), s.terminators};
}

inline spare_cfg cfg_of(const api::spare_rule& r) {
    return {r.first, r.last, std::int64_t{r.spare} - std::int64_t{r.first}, r.terminators};
}

}  // namespace cg::common
