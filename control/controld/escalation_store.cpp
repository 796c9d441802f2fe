#include "control/controld/escalation_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include <fmt/format.h>

#include "common/crc32c.hpp"
#include "common/wire_codec.hpp"
#include "common/wire_fields.hpp"
#include "control/controld/durable_file.hpp"

namespace cg::control {

namespace {

// The payload as the field codec writes it: enums as u8, times as
// milliseconds since the epoch, checked on the way back in.
struct stored_recovery {
    std::int64_t at = 0;
    std::uint8_t kind = 0;
    std::string detail;
    std::uint8_t decided = 0, applied = 0, result = 0;
    std::int64_t took = 0;
    CG_FIELDS(s.at, s.kind, s.detail, s.decided, s.applied, s.result, s.took)
};

struct stored_state {
    std::uint8_t reached = 0;
    std::vector<std::vector<std::int64_t>> used;
    std::optional<std::int64_t> latest;
    std::vector<std::uint64_t> failures, decided;
    std::uint64_t fallbacks = 0, clears = 0;
    std::vector<stored_recovery> history;
    CG_FIELDS(s.reached, s.used, s.latest, s.failures, s.decided, s.fallbacks, s.clears, s.history)
};

std::int64_t ms_of(wall_time t) { return t.time_since_epoch().count(); }
wall_time time_of(std::int64_t ms) { return wall_time(std::chrono::milliseconds(ms)); }

stored_state to_stored(const escalation_state& s) {
    stored_state out;
    out.reached = static_cast<std::uint8_t>(s.reached);
    for (const auto& times : s.used) {
        auto& v = out.used.emplace_back();
        for (wall_time t : times) v.push_back(ms_of(t));
    }
    if (s.latest) out.latest = ms_of(*s.latest);
    out.failures.assign(s.failures.begin(), s.failures.end());
    out.decided.assign(s.decided.begin(), s.decided.end());
    out.fallbacks = s.fallbacks;
    out.clears = s.clears;
    for (const recovery& r : s.history)
        out.history.push_back({ms_of(r.at), static_cast<std::uint8_t>(r.kind), r.detail,
                               static_cast<std::uint8_t>(r.decided), static_cast<std::uint8_t>(r.applied),
                               static_cast<std::uint8_t>(r.result), r.took.count()});
    return out;
}

/// The state, or which field is out of range.
std::variant<escalation_state, std::string> from_stored(const stored_state& in) {
    if (in.reached >= rung_count) return fmt::format("rung {} does not exist", in.reached);
    if (in.used.size() != common::limited_rungs || in.failures.size() != failure_count ||
        in.decided.size() != rung_count)
        return fmt::format("{} rungs of counts, {} kinds of failure and {} rungs of totals; expected {}, {} and {}",
                           in.used.size(), in.failures.size(), in.decided.size(), common::limited_rungs,
                           failure_count, rung_count);
    escalation_state s;
    s.reached = static_cast<rung>(in.reached);
    for (std::size_t i = 0; i < common::limited_rungs; ++i)
        for (std::int64_t t : in.used[i]) s.used[i].push_back(time_of(t));
    if (in.latest) s.latest = time_of(*in.latest);
    std::copy(in.failures.begin(), in.failures.end(), s.failures.begin());
    std::copy(in.decided.begin(), in.decided.end(), s.decided.begin());
    s.fallbacks = in.fallbacks;
    s.clears = in.clears;
    for (std::size_t i = 0; i < in.history.size(); ++i) {
        const stored_recovery& r = in.history[i];
        if (r.kind >= failure_count || r.decided >= rung_count || r.applied >= rung_count ||
            r.result >= outcome_count)
            return fmt::format("recovery {} of the history: failure {}, rungs {} and {}, outcome {}: out of range", i,
                               r.kind, r.decided, r.applied, r.result);
        s.history.push_back({time_of(r.at), static_cast<failure>(r.kind), r.detail, static_cast<rung>(r.decided),
                             static_cast<rung>(r.applied), static_cast<outcome>(r.result),
                             std::chrono::milliseconds(r.took)});
    }
    return s;
}

std::uint32_t get_u32(std::span<const std::uint8_t> b, std::size_t at) {
    return std::uint32_t{b[at]} | std::uint32_t{b[at + 1]} << 8 | std::uint32_t{b[at + 2]} << 16 |
           std::uint32_t{b[at + 3]} << 24;
}

void put_u32(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v) {
    for (std::size_t i = 0; i < 4; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

/// CRC of the header's first 12 bytes (magic, version, reserved, length) and the payload.
std::uint32_t file_crc(std::span<const std::uint8_t> file) {
    return common::crc32c(file.subspan(escalation_header_size), common::crc32c(file.first(12)));
}

}  // namespace

std::vector<std::uint8_t> encode_escalation(const escalation_state& s) {
    std::vector<std::uint8_t> out(escalation_header_size, 0);
    common::wire::writer(out).write(to_stored(s));
    put_u32(out, 0, escalation_magic);
    out[4] = static_cast<std::uint8_t>(escalation_version);
    out[5] = static_cast<std::uint8_t>(escalation_version >> 8);
    put_u32(out, 8, static_cast<std::uint32_t>(out.size() - escalation_header_size));
    put_u32(out, 12, file_crc(out));
    return out;
}

std::variant<escalation_state, std::string> decode_escalation(std::span<const std::uint8_t> file) {
    if (file.size() < escalation_header_size)
        return fmt::format("torn: {} bytes, shorter than the {}-byte header", file.size(), escalation_header_size);
    if (get_u32(file, 0) != escalation_magic)
        return fmt::format("not an escalation file (magic {:#010x}, expected {:#010x})", get_u32(file, 0),
                           escalation_magic);
    const std::size_t length = get_u32(file, 8), whole = escalation_header_size + length;
    if (file.size() < whole) return fmt::format("torn: {} of {} bytes", file.size(), whole);
    if (file.size() > whole) return fmt::format("{} bytes after the end of its payload", file.size() - whole);
    const std::uint32_t stored = get_u32(file, 12), computed = file_crc(file);
    if (stored != computed) return fmt::format("checksum mismatch (stored {:#010x}, computed {:#010x})", stored, computed);
    const std::uint16_t version = static_cast<std::uint16_t>(file[4] | file[5] << 8);
    if (version != escalation_version)
        return fmt::format("version {}: this controld reads version {}", version, escalation_version);
    stored_state st;
    common::wire::reader r(file.subspan(escalation_header_size));
    r.read(st);
    if (r.ok() && !r.at_end()) r.fail("trailing bytes after the state");
    if (!r.ok()) return "malformed: " + r.error();
    return from_stored(st);
}

std::string_view source_name(escalation_store::source s) {
    switch (s) {
        case escalation_store::source::current: return "the current file";
        case escalation_store::source::previous: return "the previous copy";
        default: return "a fresh start";
    }
}

escalation_store::escalation_store(std::string path) : _path(std::move(path)) {}

escalation_store::loaded escalation_store::load() {
    loaded out;
    _current_good = false;
    // Both copies, newest first; the first good one wins.
    const std::string names[] = {_path, previous_path()};
    bool found_any = false;
    for (std::size_t i = 0; i < 2; ++i) {
        std::string why;
        try {
            auto bytes = read_whole(names[i], escalation_max_file);
            if (std::holds_alternative<missing_file>(bytes)) {
                if (i == 0) why = "missing";  // a save cut between its two renames leaves only the previous copy
            } else if (const auto* err = std::get_if<std::string>(&bytes)) {
                why = *err;
            } else {
                found_any = true;
                auto decoded = decode_escalation(std::get<std::vector<std::uint8_t>>(bytes));
                if (auto* s = std::get_if<escalation_state>(&decoded)) {
                    out.state = std::move(*s);
                    out.from = i == 0 ? source::current : source::previous;
                    _current_good = i == 0;
                    break;
                }
                why = std::get<std::string>(decoded);
            }
        } catch (const std::exception& e) {  // bad_alloc, at worst
            why = e.what();
        }
        if (why.empty()) continue;
        if (why != "missing") ++(i == 0 ? _n.bad_current : _n.bad_previous);
        out.problems.push_back(fmt::format("{}: {}", names[i], why));
    }
    // Nothing on disk at all: a first start, not a problem.
    if (!found_any && out.problems.size() == 1 && out.problems[0] == _path + ": missing") out.problems.clear();
    return out;
}

std::optional<std::string> escalation_store::save(const escalation_state& s) {
    const std::string tmp = _path + ".tmp";
    const auto steps = [&]() -> std::optional<std::string> {
        const std::string dir = directory_of(_path);
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        if (ec) return fmt::format("cannot create the directory {}: {}", dir, ec.message());
        if (auto err = write_synced(tmp, encode_escalation(s))) return err;
        // A corrupted <path> is not kept: <path>.prev is then the good one.
        if (_current_good) {
            if (::rename(_path.c_str(), previous_path().c_str()) != 0)
                return errno_text(fmt::format("cannot keep {} as {}", _path, previous_path()), errno);
            _current_good = false;
        }
        if (::rename(tmp.c_str(), _path.c_str()) != 0)
            return errno_text(fmt::format("cannot rename {} to {}", tmp, _path), errno);
        _current_good = true;
        return fsync_directory(dir);
    };
    std::optional<std::string> err;
    try {
        err = steps();
    } catch (const std::exception& e) {  // bad_alloc, at worst
        err = e.what();
    }
    if (err) {
        ::unlink(tmp.c_str());
        ++_n.write_errors;
        _last_error = *err;
        return err;
    }
    ++_n.writes;
    _last_error.clear();
    return std::nullopt;
}

}  // namespace cg::control
