// A TCP connection's key the same whichever way its frame went: the lower
// (address, port) end first. The parser table indexes connections by it,
// and the SPAN reader hashes it to pick a connection's parser lcore, so
// that both directions of a connection reach the same parser (and the same
// slot there).
//
// Thread-safety: pure functions. Called from: the SPAN reader lcore, the
// parser lcores, tests.
#pragma once

#include <cstdint>
#include <cstring>

#include "common/flow_key.hpp"

namespace cg::dp::mirror {

/// Put together as the key's two little-endian words and stored at once:
/// built field by field, every frame's key was reloaded whole over narrower
/// stores (a store-forwarding stall) for its hash and its slot compare.
inline common::flow_key either_way_key(const common::flow_key& f) noexcept {
    const bool src_low = f.saddr < f.daddr || (f.saddr == f.daddr && f.sport <= f.dport);
    const std::uint64_t lo_addr = src_low ? f.saddr : f.daddr, hi_addr = src_low ? f.daddr : f.saddr;
    const std::uint64_t lo_port = src_low ? f.sport : f.dport, hi_port = src_low ? f.dport : f.sport;
    const std::uint64_t w[2] = {lo_addr | hi_addr << 32, lo_port | hi_port << 16 | std::uint64_t{f.proto} << 32};
    common::flow_key k;
    std::memcpy(&k, w, sizeof k);
    return k;
}

/// The same value for a frame and for its answer.
inline std::uint32_t either_way_hash(const common::flow_key& f) noexcept {
    return common::flow_hash(either_way_key(f));
}

}  // namespace cg::dp::mirror
