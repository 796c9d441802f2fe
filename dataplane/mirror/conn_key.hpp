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

/// Stored as the key's two words at once (common::key_words), not field by
/// field: its hash and its slot compare read it back whole.
inline common::flow_key either_way_key(const common::flow_key& f) noexcept {
    const bool src_low = f.saddr < f.daddr || (f.saddr == f.daddr && f.sport <= f.dport);
    const auto w = src_low ? common::key_words(f.saddr, f.daddr, f.sport, f.dport, f.proto)
                           : common::key_words(f.daddr, f.saddr, f.dport, f.sport, f.proto);
    common::flow_key k;
    std::memcpy(&k, w.data(), sizeof k);
    return k;
}

/// The same value for a frame and for its answer.
inline std::uint32_t either_way_hash(const common::flow_key& f) noexcept {
    return common::flow_hash(either_way_key(f));
}

}  // namespace cg::dp::mirror
