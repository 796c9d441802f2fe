// What every signed clustergate message shares (agent_msg.hpp,
// shadow_msg.hpp): the key file, HMAC-SHA256 over the bytes sent, and the
// receiver's freshness rule against copies sent again.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cg::control::auth {

inline constexpr std::size_t mac_size = 32;
inline constexpr std::size_t min_key_size = 16;

using key = std::vector<std::uint8_t>;
using mac = std::array<std::uint8_t, mac_size>;

/// Reads a key file: its bytes, surrounding whitespace trimmed. Throws
/// std::runtime_error when unreadable or shorter than min_key_size.
key load_key(const std::string& path);

/// HMAC-SHA256 of `data` under `k`.
mac hmac(const key& k, std::span<const std::uint8_t> data);
/// Appends the MAC of everything in `out` so far.
void sign(std::vector<std::uint8_t>& out, const key& k);
/// Whether `m` is the MAC of `data` under `k` (compared in constant time).
bool verify(const key& k, std::span<const std::uint8_t> data, std::span<const std::uint8_t> m);

/// A message's place in its sender's sequence: epochs only grow (a
/// restarted sender starts a new one), seqs grow within an epoch.
struct position {
    std::uint64_t epoch = 0, seq = 0;
    friend auto operator<=>(const position&, const position&) = default;
};

struct stale {
    bool replayed;  ///< else: the clock skew
    std::string detail;
};

/// The freshness rule: sent_ms within max_skew_ms of now_ms, and a position
/// above `last`, the last one accepted from that sender. nullopt when fresh.
std::optional<stale> check_fresh(position last, position got, std::uint64_t sent_ms, std::uint64_t now_ms,
                                 std::uint64_t max_skew_ms, std::string_view sender);

}  // namespace cg::control::auth
