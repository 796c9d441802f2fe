// The escalation ladder's state on disk (requirements 8.2): its counts, the rung
// it reached and its history survive a controld restart and a reboot.
//
// A save writes <path>.tmp, fsyncs it, keeps the current file as
// <path>.prev (when it was good), renames the new one over <path> and
// fsyncs the directory: at every instant one of the two names holds a
// whole, good copy. A load takes <path>, or <path>.prev when <path> is
// missing, torn, corrupted or of another version; when neither is good it
// is a fresh start. Every copy it could not use is reported and counted;
// nothing here throws or aborts, so a bad file can never make controld
// crash, let alone loop.
//
// The file (little endian):
//   magic u32 "CGES" | version u16 | reserved u16 (0) | length u32 | crc u32
//   payload: `length` bytes, the state in the control API's field codec
//            (common/wire_codec.hpp)
// crc is CRC-32C (Castagnoli, as SSE4.2's crc32 instruction computes it)
// of the header's first 12 bytes and the payload.
//
// Thread-safety: none; one owner (controld's io_context). The pure
// encode/decode functions are reentrant.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "control/controld/escalation.hpp"

namespace cg::control {

inline constexpr std::uint32_t escalation_magic = 0x53454743;  // "CGES" read as little-endian u32
inline constexpr std::uint16_t escalation_version = 1;
inline constexpr std::size_t escalation_header_size = 16;
/// Larger files are not ours: 1000 recoveries of long details stay far below.
inline constexpr std::size_t escalation_max_file = 4u << 20;

/// The whole file for a state.
std::vector<std::uint8_t> encode_escalation(const escalation_state& s);
/// The state a whole file holds, or why it cannot be used ("torn: 40 of 
/// 212 bytes", "checksum mismatch", "version 2: this controld reads version 1",
/// a field out of range). Never throws.
std::variant<escalation_state, std::string> decode_escalation(std::span<const std::uint8_t> file);

class escalation_store {
public:
    explicit escalation_store(std::string path);

    enum class source : std::uint8_t { fresh, current, previous };
    struct loaded {
        escalation_state state;             ///< default (a fresh ladder) when from == fresh
        source from = source::fresh;
        std::vector<std::string> problems;  ///< each copy that could not be used: "<file>: <why>"
    };

    /// Never throws. A missing <path> with no <path>.prev is a fresh start
    /// without a problem.
    loaded load();
    /// Writes `s` atomically. Returns why it could not (the files on disk
    /// are then as they were, but for a stray <path>.tmp), or nullopt.
    std::optional<std::string> save(const escalation_state& s);

    struct counts {
        std::uint64_t writes = 0, write_errors = 0;
        std::uint64_t bad_current = 0, bad_previous = 0;  ///< copies found unusable by load()
    };
    const counts& counters() const { return _n; }
    const std::string& path() const { return _path; }
    std::string previous_path() const { return _path + ".prev"; }
    /// The latest save's error, empty after a good one.
    const std::string& last_error() const { return _last_error; }

private:
    std::string _path;
    bool _current_good = false;  ///< <path> holds a good copy: a save keeps it as <path>.prev
    counts _n;
    std::string _last_error;
};

std::string_view source_name(escalation_store::source s);

}  // namespace cg::control
