#include "ctl_msg.hpp"

#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "wire_codec.hpp"

namespace cg::common::api {

namespace {

using wire::reader;
using wire::writer;

template <class V>
std::vector<std::uint8_t> encode_frame(const V& msg, std::uint16_t type, std::uint32_t seq) {
    std::vector<std::uint8_t> out(header_size);
    writer w(out);
    std::visit([&](const auto& m) { w.write(m); }, msg);
    const frame_header h{frame_magic, protocol_version, type, static_cast<std::uint32_t>(out.size() - header_size), seq};
    std::vector<std::uint8_t> head;
    writer hw(head);
    hw.write(h.magic), hw.write(h.version), hw.write(h.type), hw.write(h.length), hw.write(h.seq);
    std::memcpy(out.data(), head.data(), header_size);
    return out;
}

}  // namespace

std::vector<std::uint8_t> encode_request(const request& r, std::uint32_t seq) {
    return encode_frame(r, static_cast<std::uint16_t>(r.index() + 1), seq);
}

std::vector<std::uint8_t> encode_reply(const reply& r, std::uint32_t seq) {
    return encode_frame(r, static_cast<std::uint16_t>(reply_type_base + r.index()), seq);
}

std::optional<std::string> decode_header(std::span<const std::uint8_t> bytes, frame_header& h) {
    if (bytes.size() != header_size) return "short frame header";
    reader r(bytes);
    r.read(h.magic), r.read(h.version), r.read(h.type), r.read(h.length), r.read(h.seq);
    if (h.magic != frame_magic) return "not a clustergate control frame (bad magic)";
    if (h.version != protocol_version)
        return fmt::format("control protocol version {} is not supported (this side speaks {})", h.version,
                           protocol_version);
    if (h.length > max_payload) return fmt::format("frame of {} bytes is over the {} byte limit", h.length, max_payload);
    return std::nullopt;
}

std::variant<request, std::string> decode_request(std::uint16_t type, std::span<const std::uint8_t> payload) {
    constexpr std::size_t n = std::variant_size_v<request>;
    if (type < 1 || type > n) return fmt::format("unknown request type {}", type);
    return wire::decode_alternative<request>(type - 1u, payload);
}

std::variant<reply, std::string> decode_reply(std::uint16_t type, std::span<const std::uint8_t> payload) {
    constexpr std::size_t n = std::variant_size_v<reply>;
    if (type < reply_type_base || type >= reply_type_base + n) return fmt::format("unknown reply type {}", type);
    return wire::decode_alternative<reply>(type - std::size_t{reply_type_base}, payload);
}

std::string type_name(std::uint16_t type) {
    static const char* const requests[] = {"hello",    "show_tables", "add_cluster", "del_cluster", "add_port",
                                           "del_port", "add_node",    "del_node",    "set_node",    "show_stats",
                                           "show_conns", "simulate",  "reload",      "manager_show", "manager_set",
                                           "manager_node"};
    static const char* const replies[] = {"ok", "error", "hello_reply", "tables", "stats", "conns", "simulate_reply", "manager"};
    static_assert(std::size(requests) == std::variant_size_v<request>);
    static_assert(std::size(replies) == std::variant_size_v<reply>);
    if (type >= 1 && type <= std::size(requests)) return requests[type - 1];
    if (type >= reply_type_base && type < reply_type_base + std::size(replies)) return replies[type - reply_type_base];
    return fmt::format("type {}", type);
}

}  // namespace cg::common::api
