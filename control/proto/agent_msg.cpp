#include "control/proto/agent_msg.hpp"

#include "common/wire_codec.hpp"

namespace cg::control::agent {

namespace {

static_assert(!find_flaw(type_table()),
              "every agent message needs an id and a name of its own in the type table (agent_msg.hpp)");

constexpr auto types = type_table();

struct header {
    std::uint32_t magic = 0;
    std::uint16_t version = 0, type = 0;
    common::ipv4_addr sender = 0;
    std::uint64_t seq = 0, sent_ms = 0;
    std::uint16_t length = 0;
    CG_FIELDS(s.magic, s.version, s.type, s.sender, s.seq, s.sent_ms, s.length)
};

}  // namespace

std::string_view refusal_name(refusal r) {
    static constexpr std::string_view names[] = {"truncated",    "bad_magic",    "bad_version",
                                                 "bad_mac",      "malformed",    "unknown_type",
                                                 "unknown_peer", "replayed",     "clock_skew"};
    static_assert(std::size(names) == refusal_count);
    return names[static_cast<std::size_t>(r)];
}

std::vector<std::uint8_t> seal(const envelope& e, const key& k) {
    std::vector<std::uint8_t> out(header_size);
    common::wire::writer w(out);
    std::visit([&](const auto& m) { w.write(m); }, e.body);
    const header h{magic, version,   types[e.body.index()].id, e.sender,
                   e.seq, e.sent_ms, static_cast<std::uint16_t>(out.size() - header_size)};
    std::vector<std::uint8_t> head;
    common::wire::writer hw(head);
    hw.write(h);
    std::memcpy(out.data(), head.data(), header_size);
    auth::sign(out, k);
    return out;
}

std::variant<envelope, refused> open(std::span<const std::uint8_t> d, const key& k) {
    if (d.size() < header_size + mac_size)
        return refused{refusal::truncated, fmt::format("{} bytes, less than a header and a MAC", d.size())};
    header h;
    common::wire::reader hr(d.first(header_size));
    hr.read(h);
    if (h.magic != magic) return refused{refusal::bad_magic, "not a clustergate agent datagram"};
    if (h.version != version)
        return refused{refusal::bad_version,
                       fmt::format("agent protocol version {} (this side speaks {})", h.version, version)};
    if (d.size() != header_size + h.length + mac_size)
        return refused{refusal::truncated,
                       fmt::format("{} bytes, the header says {}", d.size(), header_size + h.length + mac_size)};
    const auto signed_part = d.first(header_size + h.length);
    if (!auth::verify(k, signed_part, d.subspan(signed_part.size())))
        return refused{refusal::bad_mac, "the MAC does not match (another key, or changed on the way)"};
    const auto alternative = common::index_of(types, h.type);
    if (!alternative) return refused{refusal::unknown_type, fmt::format("message type {}", h.type)};
    auto body = common::wire::decode_alternative<message>(*alternative, signed_part.subspan(header_size));
    if (auto* error = std::get_if<std::string>(&body))
        return refused{refusal::malformed, fmt::format("{}: {}", types[*alternative].name, *error)};
    return envelope{h.sender, h.seq, h.sent_ms, std::move(std::get<message>(body))};
}

refused receiver::note(refused r) {
    ++_refused[static_cast<std::size_t>(r.why)];
    return r;
}

std::variant<envelope, refused> receiver::accept(std::span<const std::uint8_t> datagram, common::ipv4_addr source,
                                                 std::uint64_t now_ms) {
    auto opened = open(datagram, _key);
    if (auto* r = std::get_if<refused>(&opened)) return note(std::move(*r));
    envelope& e = std::get<envelope>(opened);
    const auto peer = _peers.find(e.sender);
    if (peer == _peers.end())
        return note({refusal::unknown_peer, fmt::format("{} is not a node of this gateway",
                                                        common::format_ipv4(e.sender))});
    if (source != e.sender)
        return note({refusal::unknown_peer, fmt::format("names {} but came from {}", common::format_ipv4(e.sender),
                                                        common::format_ipv4(source))});
    if (auto s = auth::check_fresh({0, peer->second}, {0, e.seq}, e.sent_ms, now_ms, _max_skew_ms,
                                   common::format_ipv4(e.sender)))
        return note({s->replayed ? refusal::replayed : refusal::clock_skew, std::move(s->detail)});
    peer->second = e.seq;
    ++_accepted;
    return e;
}

}  // namespace cg::control::agent
