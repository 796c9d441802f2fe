// A flaw of a protocol's type table (common/msg_type.hpp) as one line, for
// the tests that check the tables of the control API and the agents.
#pragma once

#include <optional>
#include <string>

#include <fmt/format.h>

#include "common/msg_type.hpp"

namespace cg::test {

/// "none", or what is wrong and the entries concerned: "no id: '' 0",
/// "two messages with one id: 'ok' 32768 and 'error' 32768".
inline std::string describe(const std::optional<common::type_flaw>& f) {
    if (!f) return "none";
    const auto entry = [](const common::msg_type& t) { return fmt::format("'{}' {}", t.name, t.id); };
    const bool clash = f->second.id != 0 || !f->second.name.empty();
    return fmt::format("{}: {}{}", f->what, entry(f->first), clash ? " and " + entry(f->second) : "");
}

}  // namespace cg::test
