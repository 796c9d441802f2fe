// Wire type ids for a protocol whose messages are the alternatives of a
// std::variant: the control API (ctl_msg.hpp) and the node agents'
// datagrams (control/proto/agent_msg.hpp). Each protocol gives its ids in a
// table of its own, one entry per message; the wire carries that id, never
// the message's place in the variant, so that peers of two builds agree on
// every message they both know. Here: the entry, the table of a variant in
// variant order, the lookup by id, and the check that every protocol runs
// on its table at compile time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace cg::common {

/// A message's wire type: its id and its name, for logs and errors.
struct msg_type {
    std::uint16_t id = 0;  ///< 0: not in the table
    std::string_view name;
};

/// The entries of every alternative of the variant V, in variant order:
/// entry_of(std::type_identity<M>{}) is M's entry in the protocol's table.
template <class V, class EntryOf>
constexpr auto type_table(EntryOf entry_of) {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return std::array<msg_type, sizeof...(I)>{entry_of(std::type_identity<std::variant_alternative_t<I, V>>{})...};
    }(std::make_index_sequence<std::variant_size_v<V>>{});
}

/// The place in `table` of the entry whose id is `id` (for a variant's
/// table: the alternative it stands for), or nullopt.
constexpr std::optional<std::size_t> index_of(std::span<const msg_type> table, std::uint16_t id) {
    for (std::size_t i = 0; i < table.size(); ++i)
        if (table[i].id == id) return i;
    return std::nullopt;
}

/// One kind of a protocol's messages (requests, say) and the ids it may take.
struct type_group {
    std::span<const msg_type> types;
    std::uint16_t first_id = 1, last_id = 0xffff;
    std::string_view stray;  ///< what an id outside [first_id, last_id] is called
};

/// A flaw of a protocol's type tables: what is wrong, and the entries
/// concerned (`second` only for a clash).
struct type_flaw {
    std::string_view what;
    msg_type first, second;
};

/// The first flaw of a protocol's type tables, one group per kind of
/// message, or nullopt: an entry without an id or a name, an id outside
/// its group's range, two entries (of any groups) with the same id or the
/// same name. Entries are checked in order, each against those before it.
constexpr std::optional<type_flaw> find_flaw(std::span<const type_group> groups) {
    for (std::size_t g = 0; g < groups.size(); ++g) {
        const type_group& group = groups[g];
        for (std::size_t i = 0; i < group.types.size(); ++i) {
            const msg_type t = group.types[i];
            if (t.id == 0) return type_flaw{"no id", t, {}};
            if (t.name.empty()) return type_flaw{"no name", t, {}};
            if (t.id < group.first_id || t.id > group.last_id) return type_flaw{group.stray, t, {}};
            for (std::size_t h = 0; h <= g; ++h) {
                const auto earlier = h < g ? groups[h].types : group.types.first(i);
                for (const msg_type& e : earlier) {
                    if (e.id == t.id) return type_flaw{"two messages with one id", e, t};
                    if (e.name == t.name) return type_flaw{"two messages with one name", e, t};
                }
            }
        }
    }
    return std::nullopt;
}

/// The same for a protocol whose messages are all of one kind.
constexpr std::optional<type_flaw> find_flaw(std::span<const msg_type> types) {
    const type_group all[] = {{types}};
    return find_flaw(all);
}

}  // namespace cg::common
