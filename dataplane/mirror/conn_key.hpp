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

#include "common/flow_key.hpp"

namespace cg::dp::mirror {

inline common::flow_key either_way_key(const common::flow_key& f) noexcept {
    common::flow_key k;
    k.proto = f.proto;
    const bool src_low = f.saddr < f.daddr || (f.saddr == f.daddr && f.sport <= f.dport);
    k.saddr = src_low ? f.saddr : f.daddr;
    k.sport = src_low ? f.sport : f.dport;
    k.daddr = src_low ? f.daddr : f.saddr;
    k.dport = src_low ? f.dport : f.sport;
    return k;
}

/// The same value for a frame and for its answer.
inline std::uint32_t either_way_hash(const common::flow_key& f) noexcept {
    return common::flow_hash(either_way_key(f));
}

}  // namespace cg::dp::mirror
