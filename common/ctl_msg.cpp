#include "ctl_msg.hpp"

#include <cstring>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "wire_codec.hpp"

namespace cg::common::api {

namespace {

using wire::reader;
using wire::writer;

static_assert(!find_flaw(type_table<request>(), type_table<reply>()),
              "every request and reply needs an id and a name of its own in the type table (ctl_msg.hpp)");

template <class V>
std::uint16_t id_of(const V& msg) {
    return std::visit([](const auto& m) { return type_of<std::decay_t<decltype(m)>>.id; }, msg);
}

/// The alternative of V whose id is `id`, or nullopt.
template <class V>
std::optional<std::size_t> alternative_of(std::uint16_t id) {
    static constexpr auto table = type_table<V>();
    return index_of(table, id);
}

template <class V>
std::vector<std::uint8_t> encode_frame(const V& msg, std::uint32_t seq) {
    std::vector<std::uint8_t> out(header_size);
    writer w(out);
    std::visit([&](const auto& m) { w.write(m); }, msg);
    const frame_header h{frame_magic, protocol_version, id_of(msg), static_cast<std::uint32_t>(out.size() - header_size),
                         seq};
    std::vector<std::uint8_t> head;
    writer hw(head);
    hw.write(h.magic), hw.write(h.version), hw.write(h.type), hw.write(h.length), hw.write(h.seq);
    std::memcpy(out.data(), head.data(), header_size);
    return out;
}

}  // namespace

std::uint16_t type_id(const request& r) { return id_of(r); }
std::uint16_t type_id(const reply& r) { return id_of(r); }

std::vector<std::uint8_t> encode_request(const request& r, std::uint32_t seq) { return encode_frame(r, seq); }

std::vector<std::uint8_t> encode_reply(const reply& r, std::uint32_t seq) { return encode_frame(r, seq); }

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
    const auto k = alternative_of<request>(type);
    if (!k) return fmt::format("unknown request type {}", type);
    return wire::decode_alternative<request>(*k, payload);
}

std::variant<reply, std::string> decode_reply(std::uint16_t type, std::span<const std::uint8_t> payload) {
    const auto k = alternative_of<reply>(type);
    if (!k) return fmt::format("unknown reply type {}", type);
    return wire::decode_alternative<reply>(*k, payload);
}

std::string type_name(std::uint16_t type) {
    if (const auto k = alternative_of<request>(type)) return std::string(type_table<request>()[*k].name);
    if (const auto k = alternative_of<reply>(type)) return std::string(type_table<reply>()[*k].name);
    return fmt::format("type {}", type);
}

}  // namespace cg::common::api
