#include "control/proto/agent_msg.hpp"

#include <fstream>
#include <iterator>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/wire_codec.hpp"

namespace cg::control::agent {

namespace {

using mac_bytes = std::array<std::uint8_t, mac_size>;

mac_bytes hmac(const key& k, std::span<const std::uint8_t> data) {
    mac_bytes out{};
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), k.data(), static_cast<int>(k.size()), data.data(), data.size(), out.data(), &len) ||
        len != mac_size)
        throw std::runtime_error("HMAC-SHA256 failed");
    return out;
}

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

key load_key(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot read the key file " + path);
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto first = s.find_first_not_of(" \t\r\n");
    const auto last = s.find_last_not_of(" \t\r\n");
    s = first == std::string::npos ? std::string{} : s.substr(first, last - first + 1);
    if (s.size() < min_key_size)
        throw std::runtime_error(fmt::format("the key in {} has {} bytes; at least {} are needed", path, s.size(),
                                             min_key_size));
    return key(s.begin(), s.end());
}

std::vector<std::uint8_t> seal(const envelope& e, const key& k) {
    std::vector<std::uint8_t> out(header_size);
    common::wire::writer w(out);
    std::visit([&](const auto& m) { w.write(m); }, e.body);
    const header h{magic,  version,   static_cast<std::uint16_t>(e.body.index() + 1), e.sender,
                   e.seq,  e.sent_ms, static_cast<std::uint16_t>(out.size() - header_size)};
    std::vector<std::uint8_t> head;
    common::wire::writer hw(head);
    hw.write(h);
    std::memcpy(out.data(), head.data(), header_size);
    const mac_bytes m = hmac(k, out);
    out.insert(out.end(), m.begin(), m.end());
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
    const mac_bytes want = hmac(k, signed_part);
    if (CRYPTO_memcmp(want.data(), d.data() + signed_part.size(), mac_size) != 0)
        return refused{refusal::bad_mac, "the MAC does not match (another key, or changed on the way)"};
    constexpr std::size_t types = std::variant_size_v<message>;
    if (h.type < 1 || h.type > types) return refused{refusal::unknown_type, fmt::format("message type {}", h.type)};
    auto body = common::wire::decode_alternative<message>(h.type - 1u, signed_part.subspan(header_size));
    if (auto* error = std::get_if<std::string>(&body)) return refused{refusal::malformed, std::move(*error)};
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
    const std::uint64_t skew = e.sent_ms > now_ms ? e.sent_ms - now_ms : now_ms - e.sent_ms;
    if (skew > _max_skew_ms)
        return note({refusal::clock_skew, fmt::format("sent {} ms away from this clock (limit {} ms)", skew,
                                                      _max_skew_ms)});
    if (e.seq <= peer->second)
        return note({refusal::replayed, fmt::format("seq {} from {}, already at {}", e.seq,
                                                    common::format_ipv4(e.sender), peer->second)});
    peer->second = e.seq;
    ++_accepted;
    return e;
}

}  // namespace cg::control::agent
