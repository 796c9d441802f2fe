#include "ctl_msg.hpp"

#include <cstring>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

namespace cg::common::api {

namespace {

template <class T>
inline constexpr bool is_optional = false;
template <class T>
inline constexpr bool is_optional<std::optional<T>> = true;
template <class T>
inline constexpr bool is_vector = false;
template <class T>
inline constexpr bool is_vector<std::vector<T>> = true;

class writer {
public:
    explicit writer(std::vector<std::uint8_t>& out) : _out(out) {}

    template <class T>
    void write(const T& v) {
        if constexpr (std::is_same_v<T, bool>) {
            put_int<std::uint8_t>(v ? 1 : 0);
        } else if constexpr (std::is_integral_v<T>) {
            put_int(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
            put_int(static_cast<std::uint32_t>(v.size()));
            _out.insert(_out.end(), v.begin(), v.end());
        } else if constexpr (std::is_same_v<T, mac_addr>) {
            _out.insert(_out.end(), v.b.begin(), v.b.end());
        } else if constexpr (std::is_same_v<T, flow_key>) {
            write(v.saddr), write(v.daddr), write(v.sport), write(v.dport), write(v.proto);
        } else if constexpr (is_optional<T>) {
            write(v.has_value());
            if (v) write(*v);
        } else if constexpr (is_vector<T>) {
            put_int(static_cast<std::uint32_t>(v.size()));
            for (const auto& e : v) write(e);
        } else {
            T::visit(v, [&](const auto&... f) { (write(f), ...); });
        }
    }

private:
    template <class I>
    void put_int(I v) {
        for (std::size_t i = 0; i < sizeof(I); ++i) _out.push_back(static_cast<std::uint8_t>(std::uint64_t(v) >> (8 * i)));
    }
    std::vector<std::uint8_t>& _out;
};

/// Reads with bounds checks; after the first failure every read fails and
/// leaves values untouched, so callers check ok() once at the end.
class reader {
public:
    explicit reader(std::span<const std::uint8_t> in) : _in(in) {}

    template <class T>
    void read(T& v) {
        if (!_ok) return;
        if constexpr (std::is_same_v<T, bool>) {
            std::uint8_t b = 0;
            get_int(b);
            if (b > 1) fail("a boolean is neither 0 nor 1");
            v = b == 1;
        } else if constexpr (std::is_integral_v<T>) {
            get_int(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
            std::uint32_t n = 0;
            get_int(n);
            if (!need(n)) return;
            v.assign(reinterpret_cast<const char*>(_in.data() + _pos), n);
            _pos += n;
        } else if constexpr (std::is_same_v<T, mac_addr>) {
            if (!need(6)) return;
            std::memcpy(v.b.data(), _in.data() + _pos, 6);
            _pos += 6;
        } else if constexpr (std::is_same_v<T, flow_key>) {
            v = {};
            read(v.saddr), read(v.daddr), read(v.sport), read(v.dport), read(v.proto);
        } else if constexpr (is_optional<T>) {
            bool has = false;
            read(has);
            if (!has || !_ok) {
                v.reset();
                return;
            }
            v.emplace();
            read(*v);
        } else if constexpr (is_vector<T>) {
            std::uint32_t n = 0;
            get_int(n);
            // Every element takes at least one byte: a count beyond what is
            // left is a lie, refused before anything is allocated.
            // No reserve(): the count is not trusted beyond that bound.
            if (!need(n)) return;
            v.clear();
            for (std::uint32_t i = 0; i < n && _ok; ++i) read(v.emplace_back());
        } else {
            T::visit(v, [&](auto&... f) { (read(f), ...); });
        }
    }

    bool ok() const { return _ok; }
    bool at_end() const { return _pos == _in.size(); }
    const std::string& error() const { return _error; }
    void fail(std::string why) {
        if (_ok) _error = std::move(why);
        _ok = false;
    }

private:
    bool need(std::size_t n) {
        if (_in.size() - _pos < n) fail(fmt::format("payload ends at byte {}, {} more needed", _in.size(), n));
        return _ok;
    }
    template <class I>
    void get_int(I& v) {
        if (!need(sizeof(I))) return;
        std::uint64_t x = 0;
        for (std::size_t i = 0; i < sizeof(I); ++i) x |= std::uint64_t{_in[_pos + i]} << (8 * i);
        v = static_cast<I>(x);
        _pos += sizeof(I);
    }
    std::span<const std::uint8_t> _in;
    std::size_t _pos = 0;
    bool _ok = true;
    std::string _error;
};

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

/// Decodes alternative `index` of variant V from the payload.
template <class V, std::size_t... I>
std::variant<V, std::string> decode_alt(std::size_t index, std::span<const std::uint8_t> payload,
                                        std::index_sequence<I...>) {
    std::variant<V, std::string> out = std::string("unknown message type");
    auto try_one = [&]<std::size_t K>(std::integral_constant<std::size_t, K>) {
        if (index != K) return;
        std::variant_alternative_t<K, V> msg{};
        reader r(payload);
        r.read(msg);
        if (r.ok() && !r.at_end()) r.fail("trailing bytes after the message");
        if (r.ok())
            out = V{std::move(msg)};
        else
            out = r.error();
    };
    (try_one(std::integral_constant<std::size_t, I>{}), ...);
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
    return decode_alt<request>(type - 1u, payload, std::make_index_sequence<n>{});
}

std::variant<reply, std::string> decode_reply(std::uint16_t type, std::span<const std::uint8_t> payload) {
    constexpr std::size_t n = std::variant_size_v<reply>;
    if (type < reply_type_base || type >= reply_type_base + n) return fmt::format("unknown reply type {}", type);
    return decode_alt<reply>(type - std::size_t{reply_type_base}, payload, std::make_index_sequence<n>{});
}

std::string type_name(std::uint16_t type) {
    static const char* const requests[] = {"hello",    "show_tables", "add_cluster", "del_cluster", "add_port",
                                           "del_port", "add_node",    "del_node",    "set_node",    "show_stats",
                                           "show_conns", "simulate",  "reload"};
    static const char* const replies[] = {"ok", "error", "hello_reply", "tables", "stats", "conns", "simulate_reply"};
    static_assert(std::size(requests) == std::variant_size_v<request>);
    static_assert(std::size(replies) == std::variant_size_v<reply>);
    if (type >= 1 && type <= std::size(requests)) return requests[type - 1];
    if (type >= reply_type_base && type < reply_type_base + std::size(replies)) return replies[type - reply_type_base];
    return fmt::format("type {}", type);
}

}  // namespace cg::common::api
