#include "control/controld/shadow_merge.hpp"

#include <algorithm>
#include <optional>
#include <unordered_map>

#include "common/flow_key.hpp"

namespace cg::control {

namespace {

using shadow::sock_state;

constexpr std::uint8_t active = 1, fin = 2;

/// The router's state for a node's socket, or nullopt for no connection.
std::optional<std::uint8_t> router_state(const shadow::socket_entry& s) {
    if (s.remote == 0 || s.remote_port == 0) return std::nullopt;  // not connected to anyone
    const auto st = static_cast<sock_state>(s.state);
    if (s.proto == 17) return st == sock_state::established ? std::optional(active) : std::nullopt;
    if (s.proto != 6) return std::nullopt;
    switch (st) {
    case sock_state::established:
    case sock_state::syn_recv: return active;
    case sock_state::fin_wait1:
    case sock_state::fin_wait2:
    case sock_state::time_wait:
    case sock_state::close_wait:
    case sock_state::last_ack:
    case sock_state::closing: return fin;
    case sock_state::syn_sent:
    case sock_state::close:
    case sock_state::listen: break;
    }
    return std::nullopt;
}

struct key_hash {
    std::size_t operator()(const common::flow_key& k) const noexcept { return common::flow_hash(k); }
};

}  // namespace

merged_conns merge_shadow(std::span<const node_sockets> answers, std::span<const common::ipv4_addr> clusters) {
    merged_conns out;
    std::size_t total = 0;
    for (const auto& a : answers) total += a.sockets.size();
    std::unordered_map<common::flow_key, std::size_t, key_hash> seen;  // -> index in out.conns
    seen.reserve(total);
    out.conns.reserve(total);
    for (const node_sockets& a : answers) {
        for (const shadow::socket_entry& s : a.sockets) {
            const auto state = router_state(s);
            if (!state) {
                ++out.not_connections;
                continue;
            }
            if (std::find(clusters.begin(), clusters.end(), s.local) == clusters.end()) {
                ++out.other_address;
                continue;
            }
            common::flow_key k;  // the client's direction: what the gateway sees
            k.saddr = s.remote;
            k.daddr = s.local;
            k.sport = s.remote_port;
            k.dport = s.local_port;
            k.proto = s.proto;
            const auto [it, fresh] = seen.try_emplace(k, out.conns.size());
            if (fresh) {
                out.conns.push_back({k, a.node, *state});
                continue;
            }
            ++out.conflicts;
            common::api::conn_record& had = out.conns[it->second];
            if (had.state != active && *state == active) had = {k, a.node, *state};
        }
    }
    return out;
}

}  // namespace cg::control
