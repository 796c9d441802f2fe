// libFuzzer harness for the SMB2/3 parser (dataplane/mirror/smb2.hpp): any
// bytes as an NBSS payload, in both directions, whole and as a prefix (the
// first half held, and all of it held of a payload 4 KiB longer), into a span
// of 16 messages and one of 2. For each run it checks, and aborts (a crash to
// libFuzzer) otherwise:
//  - the outcome is one of the enum's, with a name; count <= the span;
//  - opaque payloads give no message, ok and smb1_negotiate at least one;
//  - every message is SMB2 of the run's direction, its header held, at + len
//    inside the payload, the messages of a chain one after the other from 0,
//    8-aligned, the last of an ok chain running to the payload's end; a
//    FileId is 16 bytes or none;
//  - a prefix agrees with the whole: the messages it gives are the whole's;
//  - the small span gives the large span's first messages.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "dataplane/mirror/smb2.hpp"

namespace {

using namespace cg::dp::mirror;
using smb2::outcome;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_smb2: invariant violated: %s\n", what);
    std::abort();
}

constexpr std::uint32_t smb2_header = 64, smb1_header = 32;
constexpr std::uint32_t extra_len = 4096;  ///< a payload longer than what is held

struct run {
    smb2::result r;
    std::array<app_message, 16> m;
};

bool same(const app_message& a, const app_message& b) {
    return a.proto == b.proto && a.kind == b.kind && a.id == b.id && a.procedure == b.procedure &&
           a.status == b.status && a.fh.len == b.fh.len &&
           std::equal(a.fh.b.begin(), a.fh.b.begin() + a.fh.len, b.fh.b.begin()) && a.offset == b.offset &&
           a.count == b.count && a.session_id == b.session_id && a.tree_id == b.tree_id && a.flags == b.flags &&
           a.credits == b.credits && a.async_id == b.async_id && a.at == b.at && a.len == b.len;
}

/// Parses `held` of a payload `record_len` long into the first `span` slots.
void parse(run& out, std::span<const std::uint8_t> held, std::uint32_t record_len, direction d, std::size_t span) {
    out.r = smb2::parse(held, record_len, d, std::span<app_message>(out.m.data(), span));
    const smb2::result& r = out.r;
    if (static_cast<std::size_t>(r.what) >= smb2::outcome_count) fail("outcome out of range");
    if (smb2::outcome_name(r.what) == "?") fail("outcome without a name");
    if (r.count > span) fail("more messages than the span");
    if (smb2::is_opaque(r.what) && r.count != 0) fail("messages from an opaque payload");
    if ((r.what == outcome::ok || r.what == outcome::smb1_negotiate) && r.count == 0) fail("success without a message");

    const std::uint64_t len = std::max<std::uint64_t>(record_len, held.size());
    if (r.what == outcome::smb1_negotiate) {
        const app_message& m = out.m[0];
        if (r.count != 1 || m.at != 0 || m.len != len || held.size() < smb1_header || m.kind != msg_kind::call ||
            m.procedure != 0 || m.id != 0)
            fail("SMB1 NEGOTIATE message");
        return;
    }
    std::uint64_t next_at = 0;
    for (std::uint32_t i = 0; i < r.count; ++i) {
        const app_message& m = out.m[i];
        if (m.proto != app_proto::smb2) fail("not smb2");
        if ((m.kind == msg_kind::call) != (d == direction::to_server)) fail("kind against the direction");
        if (m.at != next_at) fail("chain not contiguous from 0");
        if (m.at % 8 != 0) fail("message not 8-aligned");
        if (std::uint64_t{m.at} + smb2_header > held.size()) fail("header not held");
        if (m.len < smb2_header || std::uint64_t{m.at} + m.len > len) fail("message outside the payload");
        if (m.fh.len != 0 && m.fh.len != 16) fail("FileId not 16 bytes");
        if (m.procedure >= smb2::command_count) fail("unknown command let through");
        if ((m.flags & smb2::flag_async_command) ? m.tree_id != 0 : m.async_id != 0) fail("both TreeId and AsyncId");
        next_at = std::uint64_t{m.at} + m.len;
    }
    if (r.what == outcome::ok && next_at != len) fail("an ok chain ends before the payload");
}

void check_prefix(const run& whole, const run& prefix) {
    if (whole.r.what != outcome::ok) return;
    if (prefix.r.count > whole.r.count) fail("a prefix gave more messages than the whole");
    for (std::uint32_t i = 0; i < prefix.r.count; ++i)
        if (!same(prefix.m[i], whole.m[i])) fail("a prefix disagrees with the whole");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> all(data, size);
    const auto n = static_cast<std::uint32_t>(size);
    run whole, half, longer, small;
    for (direction d : {direction::to_server, direction::to_client}) {
        parse(whole, all, n, d, whole.m.size());
        parse(half, all.first(size / 2), n, d, half.m.size());
        check_prefix(whole, half);
        parse(longer, all, n + extra_len, d, longer.m.size());
        parse(small, all, n, d, 2);
        if (small.r.count > whole.r.count) fail("a small span gave more than a large one");
        for (std::uint32_t i = 0; i < small.r.count; ++i)
            if (!same(small.m[i], whole.m[i])) fail("a small span disagrees with a large one");
        if (whole.r.count > 2 && small.r.what != outcome::too_many_messages) fail("a full span not reported");
    }
    return 0;
}
