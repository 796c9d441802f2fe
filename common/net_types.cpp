#include "net_types.hpp"

#include <charconv>
#include <fmt/format.h>

namespace cg::common {

std::optional<ipv4_addr> parse_ipv4(std::string_view s) {
    ipv4_addr out = 0;
    for (int i = 0; i < 4; ++i) {
        if (i > 0) {
            if (s.empty() || s.front() != '.') return std::nullopt;
            s.remove_prefix(1);
        }
        const auto end = s.find('.');
        const std::string_view part = s.substr(0, end);
        if (part.empty() || part.size() > 3 || (part.size() > 1 && part.front() == '0')) return std::nullopt;
        unsigned v = 0;
        const auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
        if (ec != std::errc{} || p != part.data() + part.size() || v > 255) return std::nullopt;
        out = (out << 8) | v;
        s.remove_prefix(part.size());
    }
    if (!s.empty()) return std::nullopt;
    return out;
}

std::optional<endpoint> parse_endpoint(std::string_view s) {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const auto address = parse_ipv4(s.substr(0, colon));
    const std::string_view digits = s.substr(colon + 1);
    std::uint16_t port = 0;
    const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (!address || digits.empty() || ec != std::errc{} || p != digits.data() + digits.size() || port == 0)
        return std::nullopt;
    return endpoint{*address, port};
}

std::string format_ipv4(ipv4_addr a) {
    return fmt::format("{}.{}.{}.{}", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

std::optional<mac_addr> parse_mac(std::string_view s) {
    if (s.size() != 17) return std::nullopt;
    mac_addr m;
    const char sep = s[2];
    if (sep != ':' && sep != '-') return std::nullopt;
    for (int i = 0; i < 6; ++i) {
        if (i > 0 && s[i * 3 - 1] != sep) return std::nullopt;
        unsigned v = 0;
        const char* b = s.data() + i * 3;
        const auto [p, ec] = std::from_chars(b, b + 2, v, 16);
        if (ec != std::errc{} || p != b + 2) return std::nullopt;
        m.b[i] = static_cast<std::uint8_t>(v);
    }
    return m;
}

std::string format_mac(const mac_addr& m) {
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m.b[0], m.b[1], m.b[2], m.b[3], m.b[4],
                       m.b[5]);
}

std::optional<l4_proto> parse_proto(std::string_view s) {
    if (s == "tcp") return l4_proto::tcp;
    if (s == "udp") return l4_proto::udp;
    return std::nullopt;
}

std::string proto_name(std::uint8_t ip_proto) {
    switch (static_cast<l4_proto>(ip_proto)) {
    case l4_proto::tcp: return "tcp";
    case l4_proto::udp: return "udp";
    }
    return std::to_string(ip_proto);
}

std::string format_service(const service_key& s) {
    return format_ipv4(s.vip) + " " + proto_name(s.proto) + "/" + std::to_string(s.port);
}

}  // namespace cg::common
