// Addresses and protocol numbers shared by every clustergate program.
//
// IPv4 addresses are kept in host byte order everywhere outside the packet
// itself; conversion happens once, at the edge (classifier, codec).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cg::common {

using ipv4_addr = std::uint32_t;  ///< host byte order

struct mac_addr {
    std::array<std::uint8_t, 6> b{};
    friend bool operator==(const mac_addr&, const mac_addr&) = default;
    bool is_zero() const { return b == std::array<std::uint8_t, 6>{}; }
};

enum class l4_proto : std::uint8_t { tcp = 6, udp = 17 };

/// Parses dotted-quad "198.18.0.1". Returns nullopt on anything else
/// (leading zeros, missing octets, values above 255, trailing text).
std::optional<ipv4_addr> parse_ipv4(std::string_view s);
std::string format_ipv4(ipv4_addr a);

struct endpoint {
    ipv4_addr address = 0;
    std::uint16_t port = 0;
    friend bool operator==(const endpoint&, const endpoint&) = default;
};
/// "198.18.0.2:9651". Returns nullopt otherwise (port 0 included).
std::optional<endpoint> parse_endpoint(std::string_view s);

/// Parses "02:00:00:00:00:0a" (also '-' as separator). Returns nullopt otherwise.
std::optional<mac_addr> parse_mac(std::string_view s);
std::string format_mac(const mac_addr& m);

/// "tcp" / "udp" (case-sensitive, as the console and YAML spell them).
std::optional<l4_proto> parse_proto(std::string_view s);
/// The one name of an IP protocol everywhere (console, telemetry keys,
/// Prometheus labels, logs): "tcp", "udp", else its number.
std::string proto_name(std::uint8_t ip_proto);
inline std::string proto_name(l4_proto p) { return proto_name(static_cast<std::uint8_t>(p)); }

/// A cluster port: what the data plane, controld and the control API all
/// call a service (cluster address, protocol, port).
struct service_key {
    ipv4_addr vip = 0;
    l4_proto proto = l4_proto::tcp;
    std::uint16_t port = 0;
    auto operator<=>(const service_key&) const = default;
};
/// "198.18.0.1 tcp/80"
std::string format_service(const service_key& s);

}  // namespace cg::common
