// The little-endian field codec behind every clustergate wire format (the
// control API, the node agents' reports): integers fixed width, doubles as
// their IEEE-754 bits, strings and vectors as u32 count + elements,
// optionals as u8 flag + value, protocols as u8 (tcp or udp, else refused),
// structs through their CG_FIELDS visit().
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "flow_key.hpp"
#include "net_types.hpp"

namespace cg::common::wire {

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
        } else if constexpr (std::is_same_v<T, double>) {
            put_int(std::bit_cast<std::uint64_t>(v));
        } else if constexpr (std::is_same_v<T, std::string>) {
            put_int(static_cast<std::uint32_t>(v.size()));
            _out.insert(_out.end(), v.begin(), v.end());
        } else if constexpr (std::is_same_v<T, l4_proto>) {
            put_int(static_cast<std::uint8_t>(v));
        } else if constexpr (std::is_same_v<T, service_key>) {
            write(v.vip), write(v.proto), write(v.port);
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
        } else if constexpr (std::is_same_v<T, double>) {
            std::uint64_t bits = 0;
            get_int(bits);
            v = std::bit_cast<double>(bits);
        } else if constexpr (std::is_same_v<T, std::string>) {
            std::uint32_t n = 0;
            get_int(n);
            if (!need(n)) return;
            v.assign(reinterpret_cast<const char*>(_in.data() + _pos), n);
            _pos += n;
        } else if constexpr (std::is_same_v<T, l4_proto>) {
            std::uint8_t p = 0;
            get_int(p);
            if (_ok && p != 6 && p != 17) fail(fmt::format("protocol {} is neither tcp (6) nor udp (17)", p));
            if (_ok) v = static_cast<l4_proto>(p);
        } else if constexpr (std::is_same_v<T, service_key>) {
            read(v.vip), read(v.proto), read(v.port);
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


/// Decodes alternative `index` of variant V from a whole payload: the
/// message, or why it is malformed (a short field, a bad flag, trailing bytes).
template <class V>
std::variant<V, std::string> decode_alternative(std::size_t index, std::span<const std::uint8_t> payload) {
    std::variant<V, std::string> out = std::string("unknown message type");
    [&]<std::size_t... I>(std::index_sequence<I...>) {
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
    }(std::make_index_sequence<std::variant_size_v<V>>{});
    return out;
}

}  // namespace cg::common::wire
