#include "control/proto/shadow_msg.hpp"

#include <algorithm>
#include <optional>

#include "common/wire_codec.hpp"

namespace cg::control::shadow {

namespace {

struct header {
    std::uint32_t magic = 0;
    std::uint16_t version = 0, type = 0;
    common::ipv4_addr sender = 0;
    std::uint64_t epoch = 0, seq = 0, sent_ms = 0;
    std::uint32_t length = 0;
    CG_FIELDS(s.magic, s.version, s.type, s.sender, s.epoch, s.seq, s.sent_ms, s.length)
};

static_assert(!find_flaw(type_table()), "shadow_msg.hpp: every message needs an id and a name of its own");

constexpr auto types = type_table();
constexpr std::uint16_t type_query = type_of<query>.id, type_chunk = type_of<chunk>.id,
                        type_restore = type_of<restore>.id, type_restored = type_of<restored>.id,
                        type_backup_query = type_of<backup_query>.id, type_state_chunk = type_of<state_chunk>.id,
                        type_state_restore = type_of<state_restore>.id,
                        type_state_restored = type_of<state_restored>.id;

header read_header(std::span<const std::uint8_t> d) {
    header h;
    common::wire::reader r(d.first(header_size));
    r.read(h);
    return h;
}

/// Framing and MAC: the header of an authentic frame of a known type.
std::variant<header, refused> authenticate(std::span<const std::uint8_t> d, const key& k) {
    if (d.size() < header_size + mac_size)
        return refused{refusal::truncated, fmt::format("{} bytes, less than a header and a MAC", d.size())};
    auto size = frame_size(d);
    if (auto* r = std::get_if<refused>(&size)) return std::move(*r);
    if (d.size() != std::get<std::size_t>(size))
        return refused{refusal::truncated, fmt::format("{} bytes, the header says {}", d.size(), std::get<std::size_t>(size))};
    const auto signed_part = d.first(d.size() - mac_size);
    if (!auth::verify(k, signed_part, d.last(mac_size)))
        return refused{refusal::bad_mac, "the MAC does not match (another key, or changed on the way)"};
    const header h = read_header(d);
    if (!common::index_of(types, h.type)) return refused{refusal::unknown_type, fmt::format("message type {}", h.type)};
    return h;
}

std::variant<message, refused> decode(const header& h, std::span<const std::uint8_t> d) {
    const std::size_t alternative = *common::index_of(types, h.type);  // authenticate() checked it
    auto body = common::wire::decode_alternative<message>(alternative, d.subspan(header_size, h.length));
    if (auto* error = std::get_if<std::string>(&body))
        return refused{refusal::malformed, fmt::format("{}: {}", types[alternative].name, *error)};
    return std::move(std::get<message>(body));
}

std::string type_name(std::uint16_t t) {
    const auto i = common::index_of(types, t);
    return i ? fmt::format("a {}", types[*i].name) : fmt::format("type {}", t);
}

/// An answer's header: authentic, of type `type`, from `node`, echoing `asked`.
std::variant<header, refused> answer_header(std::span<const std::uint8_t> d, const key& k, std::uint16_t type,
                                            common::ipv4_addr node, auth::position asked) {
    auto checked = authenticate(d, k);
    if (auto* r = std::get_if<refused>(&checked)) return std::move(*r);
    const header& h = std::get<header>(checked);
    if (h.type != type)
        return refused{refusal::wrong_type, fmt::format("{} where {} is due", type_name(h.type), type_name(type))};
    if (h.sender != node)
        return refused{refusal::wrong_peer, fmt::format("{} from {}, {} was asked", type_name(h.type),
                                                        common::format_ipv4(h.sender), common::format_ipv4(node))};
    if (auth::position{h.epoch, h.seq} != asked)
        return refused{refusal::replayed, fmt::format("answers epoch {} seq {}, the one asked is epoch {} seq {}",
                                                      h.epoch, h.seq, asked.epoch, asked.seq)};
    return h;
}

/// What a restore may ask: 1 to max_restore_conns connections, each replay
/// within max_replay. nullopt when it is well-formed.
std::optional<std::string> restore_flaw(const restore& r) {
    if (r.conns.empty() || r.conns.size() > max_restore_conns)
        return fmt::format("asks for {} connections (1 to {})", r.conns.size(), max_restore_conns);
    for (const restore_conn& c : r.conns)
        if (c.replay.size() > max_replay) return fmt::format("a replay of {} bytes (at most {})", c.replay.size(), max_replay);
    return std::nullopt;
}

}  // namespace

std::string_view refusal_name(refusal r) {
    static constexpr std::string_view names[] = {"truncated",    "bad_magic",  "bad_version", "too_large",
                                                 "bad_mac",      "unknown_type", "wrong_type", "replayed",
                                                 "clock_skew",   "wrong_peer", "malformed",   "out_of_order"};
    static_assert(std::size(names) == refusal_count);
    return names[static_cast<std::size_t>(r)];
}

std::vector<std::uint8_t> seal(const envelope& e, const key& k) {
    std::vector<std::uint8_t> out;
    common::wire::writer w(out);
    w.write(header{});  // room for the header, written once the length is known
    std::visit([&](const auto& m) { w.write(m); }, e.body);
    const header h{magic,   version, types[e.body.index()].id,
                   e.sender, e.epoch, e.seq, e.sent_ms, static_cast<std::uint32_t>(out.size() - header_size)};
    std::vector<std::uint8_t> head;
    common::wire::writer hw(head);
    hw.write(h);
    std::copy(head.begin(), head.end(), out.begin());
    auth::sign(out, k);
    return out;
}

std::size_t restore_conn_size(std::size_t replay_bytes) {
    static const std::size_t fixed = [] {  // the repair values and the replay's count: the same for every one
        std::vector<std::uint8_t> out;
        common::wire::writer w(out);
        w.write(restore_conn{});
        return out.size();
    }();
    return fixed + replay_bytes;
}

std::size_t answer_chunks(std::size_t entries) {
    return entries == 0 ? 1 : (entries + entries_per_chunk - 1) / entries_per_chunk;
}

std::vector<std::uint8_t> seal_chunk(std::span<const socket_entry> all, std::size_t index, common::ipv4_addr node,
                                     auth::position query, std::uint64_t sent_ms, const key& k) {
    const std::size_t first = std::min(all.size(), index * entries_per_chunk);
    const std::size_t n = std::min(all.size() - first, entries_per_chunk);
    chunk c;
    c.index = static_cast<std::uint32_t>(index);
    c.last = index + 1 >= answer_chunks(all.size());
    c.entries.assign(all.begin() + static_cast<std::ptrdiff_t>(first),
                     all.begin() + static_cast<std::ptrdiff_t>(first + n));
    return seal(envelope{node, query.epoch, query.seq, sent_ms, std::move(c)}, k);
}

std::variant<std::size_t, refused> frame_size(std::span<const std::uint8_t> d, std::size_t limit) {
    if (d.size() < header_size)
        return refused{refusal::truncated, fmt::format("{} bytes, less than a header", d.size())};
    const header h = read_header(d);
    if (h.magic != magic) return refused{refusal::bad_magic, "not a clustergate shadow table frame"};
    if (h.version != version)
        return refused{refusal::bad_version,
                       fmt::format("shadow protocol version {} (this side speaks {})", h.version, version)};
    const std::uint64_t size = std::uint64_t{header_size} + h.length + mac_size;
    if (size > std::min(limit, max_frame))
        return refused{refusal::too_large,
                       fmt::format("a frame of {} bytes, at most {} taken here", size, std::min(limit, max_frame))};
    return static_cast<std::size_t>(size);
}

std::variant<envelope, refused> open(std::span<const std::uint8_t> d, const key& k) {
    auto h = authenticate(d, k);
    if (auto* r = std::get_if<refused>(&h)) return std::move(*r);
    const header& hd = std::get<header>(h);
    auto body = decode(hd, d);
    if (auto* r = std::get_if<refused>(&body)) return std::move(*r);
    return envelope{hd.sender, hd.epoch, hd.seq, hd.sent_ms, std::move(std::get<message>(body))};
}

refused query_receiver::note(refused r) {
    ++_refused[static_cast<std::size_t>(r.why)];
    return r;
}

std::variant<envelope, refused> query_receiver::accept(std::span<const std::uint8_t> d, std::uint64_t now_ms) {
    auto checked = authenticate(d, _key);
    if (auto* r = std::get_if<refused>(&checked)) return note(std::move(*r));
    const header& h = std::get<header>(checked);
    if (h.type != type_query && h.type != type_restore && h.type != type_backup_query && h.type != type_state_restore)
        return note({refusal::wrong_type,
                     fmt::format("{} where a query, a restore, a backup query or a state restore is due",
                                 type_name(h.type))});
    if (h.type == type_query && d.size() > max_query_frame)
        return note({refusal::too_large, fmt::format("{} bytes, a query takes at most {}", d.size(), max_query_frame)});
    const auth::position at{h.epoch, h.seq};
    const auto last = _last.find(h.sender);
    if (auto s = auth::check_fresh(last == _last.end() ? auth::position{} : last->second, at, h.sent_ms, now_ms,
                                   _max_skew_ms, common::format_ipv4(h.sender)))
        return note({s->replayed ? refusal::replayed : refusal::clock_skew, std::move(s->detail)});
    auto body = decode(h, d);
    if (auto* r = std::get_if<refused>(&body)) return note(std::move(*r));
    if (const auto* q = std::get_if<query>(&std::get<message>(body));
        q && (q->clusters.empty() || q->clusters.size() > max_clusters))
        return note({refusal::malformed,
                     fmt::format("asks for {} cluster addresses (1 to {})", q->clusters.size(), max_clusters)});
    if (const auto* r = std::get_if<restore>(&std::get<message>(body)))
        if (auto flaw = restore_flaw(*r)) return note({refusal::malformed, std::move(*flaw)});
    _last[h.sender] = at;
    ++_accepted;
    return envelope{h.sender, h.epoch, h.seq, h.sent_ms, std::move(std::get<message>(body))};
}

std::variant<restored, refused> open_restored(std::span<const std::uint8_t> d, const key& k, common::ipv4_addr node,
                                              auth::position asked, std::size_t conns) {
    auto checked = answer_header(d, k, type_restored, node, asked);
    if (auto* r = std::get_if<refused>(&checked)) return std::move(*r);
    auto body = decode(std::get<header>(checked), d);
    if (auto* r = std::get_if<refused>(&body)) return std::move(*r);
    auto& out = std::get<restored>(std::get<message>(body));
    if (out.outcomes.size() != conns)
        return refused{refusal::malformed, fmt::format("{} outcomes for {} connections", out.outcomes.size(), conns)};
    return std::move(out);
}

std::variant<state_restored, refused> open_state_restored(std::span<const std::uint8_t> d, const key& k,
                                                          common::ipv4_addr node, auth::position asked) {
    auto checked = answer_header(d, k, type_state_restored, node, asked);
    if (auto* r = std::get_if<refused>(&checked)) return std::move(*r);
    auto body = decode(std::get<header>(checked), d);
    if (auto* r = std::get_if<refused>(&body)) return std::move(*r);
    return std::get<state_restored>(std::move(std::get<message>(body)));
}

std::size_t state_chunks(std::size_t bytes) {
    return bytes == 0 ? 1 : (bytes + state_bytes_per_chunk - 1) / state_bytes_per_chunk;
}

std::vector<std::uint8_t> seal_state_chunk(std::span<const std::uint8_t> all, std::size_t index,
                                           std::uint64_t taken_ms, const std::string& error, common::ipv4_addr sender,
                                           auth::position at, std::uint64_t sent_ms, const key& k) {
    state_chunk c;
    c.index = static_cast<std::uint32_t>(index);
    c.last = !error.empty() || index + 1 >= state_chunks(all.size());
    if (c.last) {
        c.total = error.empty() ? all.size() : 0;
        c.taken_ms = taken_ms;
        c.error = error.substr(0, 1024);
    }
    if (error.empty()) {
        const std::size_t first = std::min(all.size(), index * state_bytes_per_chunk);
        const std::size_t n = std::min(all.size() - first, state_bytes_per_chunk);
        c.bytes.assign(all.begin() + static_cast<std::ptrdiff_t>(first),
                       all.begin() + static_cast<std::ptrdiff_t>(first + n));
    }
    return seal(envelope{sender, at.epoch, at.seq, sent_ms, std::move(c)}, k);
}

refused state_collector::note(refused r) {
    ++_refused[static_cast<std::size_t>(r.why)];
    return r;
}

std::optional<refused> state_collector::accept(std::span<const std::uint8_t> d) {
    auto checked = answer_header(d, _key, type_state_chunk, _sender, _at);
    if (auto* r = std::get_if<refused>(&checked)) return note(std::move(*r));
    auto body = decode(std::get<header>(checked), d);
    if (auto* r = std::get_if<refused>(&body)) return note(std::move(*r));
    auto& c = std::get<state_chunk>(std::get<message>(body));
    if (_complete) return note({refusal::out_of_order, fmt::format("state chunk {} after the last one", c.index)});
    if (c.index != _next) return note({refusal::out_of_order, fmt::format("state chunk {}, {} is due", c.index, _next)});
    if (!c.last && c.bytes.size() != state_bytes_per_chunk)
        return note({refusal::malformed, fmt::format("state chunk {} is not the last and holds {} bytes, not {}",
                                                     c.index, c.bytes.size(), state_bytes_per_chunk)});
    if (!c.last && (c.total || c.taken_ms || !c.error.empty()))
        return note({refusal::malformed, fmt::format("state chunk {} is not the last and has a total, a time or an "
                                                     "error", c.index)});
    if (!c.error.empty() && (!c.bytes.empty() || !_bytes.empty()))
        return note({refusal::malformed, "a state chunk with an error and bytes"});
    if (_bytes.size() + c.bytes.size() > _max_bytes)
        return note({refusal::too_large, fmt::format("a state of more than {} bytes", _max_bytes)});
    if (c.last && c.error.empty() && c.total != _bytes.size() + c.bytes.size())
        return note({refusal::truncated, fmt::format("{} bytes of state came, the last chunk says {}",
                                                     _bytes.size() + c.bytes.size(), c.total)});
    _bytes.insert(_bytes.end(), c.bytes.begin(), c.bytes.end());
    ++_next;
    if (c.last) {
        _complete = true;
        _taken_ms = c.taken_ms;
        _error = std::move(c.error);
    }
    return std::nullopt;
}

refused answer_collector::note(refused r) {
    ++_refused[static_cast<std::size_t>(r.why)];
    return r;
}

std::optional<refused> answer_collector::accept(std::span<const std::uint8_t> d) {
    auto checked = answer_header(d, _key, type_chunk, _node, _query);
    if (auto* r = std::get_if<refused>(&checked)) return note(std::move(*r));
    auto body = decode(std::get<header>(checked), d);
    if (auto* r = std::get_if<refused>(&body)) return note(std::move(*r));
    auto& c = std::get<chunk>(std::get<message>(body));
    if (_complete) return note({refusal::out_of_order, fmt::format("chunk {} after the last one", c.index)});
    if (c.index != _next) return note({refusal::out_of_order, fmt::format("chunk {}, {} is due", c.index, _next)});
    if (!c.last && c.entries.size() != entries_per_chunk)
        return note({refusal::malformed, fmt::format("chunk {} is not the last and holds {} entries, not {}", c.index,
                                                     c.entries.size(), entries_per_chunk)});
    if (_entries.size() + c.entries.size() > _max_entries)
        return note({refusal::too_large, fmt::format("more than {} entries", _max_entries)});
    _entries.insert(_entries.end(), c.entries.begin(), c.entries.end());
    ++_next;
    _complete = c.last;
    return std::nullopt;
}

}  // namespace cg::control::shadow
