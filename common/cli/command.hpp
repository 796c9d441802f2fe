// The console's command model (requirements 9.2): each area of the console lists its
// commands as values (words, arguments, options, help, one handler). The
// console generates from these lists the rte_cmdline grammar (completion),
// the help text and the diagnostics for bad input, so that a command's syntax
// is written exactly once and `gatewayd -i` and `gwctl` cannot drift apart.
//
// A handler gets the words the grammar matched, already split into
// positional arguments and options; it converts them with the typed helpers
// below (which throw cli_error naming the argument) and calls one action that
// talks to the api and appends text to context::out.
//
// Thread-safety: the tables are immutable values; handlers run on the thread
// that drives the console.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/api.hpp"
#include "common/net_types.hpp"

namespace cg::cli {

/// A positional argument.
struct arg_spec {
    std::string_view name;     ///< shown as <name> in the syntax and named in errors
    std::string_view choices;  ///< fixed words "tcp#udp" (completable); empty: any word
    std::string_view help;
    /// May be left out. Only trailing arguments, and only in a command without
    /// options: "a [<x>] [opt <v>]" would be ambiguous for the grammar.
    bool optional = false;
};

/// A keyword option of the tail, in any order: "weight 3 quiesced".
struct option_spec {
    std::string_view key;
    std::string_view value_name;  ///< empty: a flag without value
    std::string_view help;
};

/// What the grammar matched: positional arguments in order (optional ones
/// left out are absent) and the option tail as key -> value (flags map to "").
struct parsed {
    std::vector<std::string> args;
    std::map<std::string, std::string> options;
};

/// Where a handler works: the api of this program and the text it prints.
struct context {
    common::api::api& api;
    std::string& out;
};

struct command {
    std::vector<std::string_view> words;  ///< the fixed keywords: "add", "node"
    std::vector<arg_spec> args;
    std::vector<option_spec> options;
    std::string_view help;
    void (*run)(const parsed&, context&);
};

/// Bad console input: the message names the argument and what was expected.
class cli_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// ---- the command tables of each area (one file each) -------------------

std::vector<command> table_commands();  ///< clusters, ports, nodes (cmd_tables.cpp)
std::vector<command> stats_commands();  ///< counters, ports, lcores (cmd_stats.cpp)
std::vector<command> conn_commands();   ///< connections, simulate (cmd_conns.cpp)
std::vector<command> conn_file_commands();  ///< save/load the connection tables (cmd_conn_file.cpp)
std::vector<command> mirror_commands();  ///< the mirror parser (cmd_mirror.cpp)
std::vector<command> manager_commands();  ///< controld's manager (cmd_manager.cpp)
std::vector<command> ha_commands();       ///< the gateway's role in its pair (cmd_ha.cpp)
std::vector<command> supervision_commands();  ///< controld's escalation ladder (cmd_supervision.cpp)
std::vector<command> restore_commands();  ///< a failed node's connections carried on by its spare (cmd_restore.cpp)
std::vector<command> state_commands();    ///< the working nodes' state backups (cmd_state.cpp)

// ---- syntax ------------------------------------------------------------

/// "add node <vip> tcp|udp <port> <node-ip> [mac <mac>] [quiesced]".
std::string syntax(const command& c);
/// "<vip>" or "tcp|udp" (no brackets for an optional one).
std::string arg_syntax(const arg_spec& a);
/// "mac <mac>" or "quiesced".
std::string option_syntax(const option_spec& o);

/// Splits the option tail into key -> value. Throws cli_error for an unknown
/// key, a key without its value or a key given twice; the message lists the
/// valid keys.
std::map<std::string, std::string> parse_options(const std::vector<option_spec>& specs, std::string_view tail);

/// Splits on blanks (spaces, tabs); no quoting, as rte_cmdline.
std::vector<std::string> split_words(std::string_view s);

/// rte_cmdline keeps a word in 128 bytes with its NUL and refuses a word
/// that fills them: a longer one makes the line fail to parse.
inline constexpr std::size_t max_word_length = 126;

/// Why `line` matched none of `commands`, as the text after "error: ":
///   "unknown command: <line>  (try: help)" when no command starts so;
///   "bad arguments for show: expected clusters|stats, got 'foo'; see help show";
///   "bad arguments for add node: proto: expected tcp|udp, got 'icmp'" and
///   a "  usage: <syntax>" line, when the keywords named one command.
std::string describe_mismatch(const std::vector<const command*>& commands, std::string_view line);

// ---- typed arguments: each throws cli_error naming `name` ---------------

common::ipv4_addr ipv4_arg(std::string_view name, const std::string& v);
std::uint64_t uint_arg(std::string_view name, const std::string& v, std::uint64_t min, std::uint64_t max);
common::l4_proto proto_arg(std::string_view name, const std::string& v);
common::mac_addr mac_arg(std::string_view name, const std::string& v);
/// "90s", "2h15m", "250ms"; whole milliseconds that fit 32 bits.
std::uint32_t duration_ms_arg(std::string_view name, const std::string& v);
bool bool_arg(std::string_view name, const std::string& v);  ///< on|off

/// The value of option `key`, or nullptr when it was not given.
const std::string* find_option(const parsed& p, std::string_view key);
inline bool has_flag(const parsed& p, std::string_view key) { return find_option(p, key) != nullptr; }

/// Option `key` converted by `conv(key, value)`, or nullopt when not given:
///   r.msl_ms = option_as(p, "msl", duration_ms_arg);
template <class Conv>
auto option_as(const parsed& p, std::string_view key, Conv&& conv)
    -> std::optional<decltype(conv(key, std::string{}))> {
    if (const std::string* v = find_option(p, key)) return conv(key, *v);
    return std::nullopt;
}

}  // namespace cg::cli
