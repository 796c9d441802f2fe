// libFuzzer harness for the shadow connection table's parsers: what
// nodeagent reads from its kernel (one sock_diag message, sock_diag.hpp),
// what it reads from anybody who connects (a takeover query), and what
// controld reads from a node (the answer's chunks, shadow_msg.hpp); and the
// filter program nodeagent gives the kernel.
//
// The first byte picks the target:
//   0: a sock_diag message (the next byte's low bit: TCP or UDP). A socket
//      taken is of the dump's protocol and comes back the same when its
//      fields are written as a plain AF_INET message.
//   1: a query or restore frame; 2: a chunk frame; 4: a restore's answer
//      (restored), each tried as it is (almost always
//      refused: the MAC) and signed by the harness, so that the decoders
//      behind the MAC are fuzzed too. Every frame counts exactly one refusal
//      or is taken; a frame taken re-seals to the same bytes (one encoding
//      per message); the same frame again is refused as a replay (query) or
//      out of order (chunk). The chunk's collector expects the node, epoch
//      and seq its header names, so that the fuzzer gets past the echo check;
//      so does the restored's reader, with the outcome count it announces.
//   5: a state chunk (a node's state backup on its way), into a collector
//      that expects the sender and position its header names, at most 1 MiB;
//      6: a state restore's answer (state restored). Same rules as 1, 2, 4:
//      counted once, a chunk taken re-seals the same and is out of order
//      the second time; a collector never holds more than its limit.
//   3: a filter: the next byte's bits pick the family and the wildcard, the
//      rest are addresses (the first 64). The program passes the kernel's audit and takes
//      exactly the asked addresses (support/diag_msgs.hpp restates the rules).
// A violation aborts, which libFuzzer reports as a crash.
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <stdexcept>
#include <vector>

#include "control/nodeagent/sock_diag.hpp"
#include "control/proto/shadow_msg.hpp"
#include "support/diag_msgs.hpp"

namespace {

using namespace cg::control;
using bytes = std::span<const std::uint8_t>;

const shadow::key the_key(32, 0x42);

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_shadow: %s\n", what);
    std::abort();
}

std::uint32_t u32_at(bytes d, std::size_t i) {
    return d[i] | (d[i + 1] << 8) | (d[i + 2] << 16) | (std::uint32_t{d[i + 3]} << 24);
}
std::uint64_t u64_at(bytes d, std::size_t i) { return u32_at(d, i) | (std::uint64_t{u32_at(d, i + 4)} << 32); }

void sock_diag_message(bytes d) {
    if (d.empty()) return;
    const std::uint8_t protocol = d[0] & 1 ? IPPROTO_UDP : IPPROTO_TCP;
    auto r = sockdiag::parse(d.subspan(1), protocol);
    if (auto* why = std::get_if<sockdiag::refusal>(&r)) {
        if (why->detail.empty()) fail("a sock_diag refusal without a reason");
        return;
    }
    const auto& e = std::get<shadow::socket_entry>(r);
    if (e.proto != protocol) fail("a socket of another protocol than the dump's");
    cg::test::diag_spec s;
    s.state = e.state;
    s.local = e.local, s.local_port = e.local_port;
    s.remote = e.remote, s.remote_port = e.remote_port;
    auto again = sockdiag::parse(cg::test::make_diag_msg(s), protocol);
    auto* same = std::get_if<shadow::socket_entry>(&again);
    if (!same || !(*same == e)) fail("a socket taken does not come back the same from a plain message");
}

std::uint64_t refusals(const auto& counter) {
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < shadow::refusal_count; ++i) n += counter.count(static_cast<shadow::refusal>(i));
    return n;
}

void reseals_same(const shadow::envelope& e, bytes d) {
    if (!std::ranges::equal(shadow::seal(e, the_key), d)) fail("took a frame that does not re-seal to the same bytes");
}

void query_frame(bytes d) {
    shadow::query_receiver rx(the_key, ~std::uint64_t{0} >> 1);  // any clock: the sender's time is fuzzed too
    auto r = rx.accept(d, 0);
    if (refusals(rx) + rx.accepted() != 1) fail("a query was not counted exactly once");
    if (auto* why = std::get_if<shadow::refused>(&r)) {
        if (why->detail.empty()) fail("a query refusal without a reason");
        return;
    }
    reseals_same(std::get<shadow::envelope>(r), d);
    auto again = rx.accept(d, 0);
    auto* refused = std::get_if<shadow::refused>(&again);
    if (!refused || refused->why != shadow::refusal::replayed) fail("a replayed query was not refused as one");
}

void chunk_frame(bytes d) {
    const auto node = d.size() >= 12 ? u32_at(d, 8) : 0;
    const auth::position q = d.size() >= 28 ? auth::position{u64_at(d, 12), u64_at(d, 20)} : auth::position{};
    shadow::answer_collector c(the_key, node, q);
    auto r = c.accept(d);
    if (refusals(c) != (r ? 1u : 0u)) fail("a chunk was not counted exactly once");
    if (r) {
        if (r->detail.empty()) fail("a chunk refusal without a reason");
        return;
    }
    auto opened = shadow::open(d, the_key);
    if (!std::holds_alternative<shadow::envelope>(opened)) fail("took a chunk that open() refuses");
    reseals_same(std::get<shadow::envelope>(opened), d);
    if (c.chunks() != 1) fail("a chunk taken but not counted");
    auto twice = c.accept(d);
    if (!twice || twice->why != shadow::refusal::out_of_order) fail("a chunk taken twice was not out of order");
}

void restored_frame(bytes d) {
    const auto node = d.size() >= 12 ? u32_at(d, 8) : 0;
    const auth::position asked = d.size() >= 28 ? auth::position{u64_at(d, 12), u64_at(d, 20)} : auth::position{};
    const std::size_t conns = d.size() >= shadow::header_size + 4 ? u32_at(d, shadow::header_size) : 0;
    auto r = shadow::open_restored(d, the_key, node, asked, conns);
    if (auto* why = std::get_if<shadow::refused>(&r)) {
        if (why->detail.empty()) fail("a restored refusal without a reason");
        return;
    }
    auto& got = std::get<shadow::restored>(r);
    if (got.outcomes.size() != conns) fail("took an answer with another count of outcomes than asked");
    reseals_same(shadow::envelope{node, asked.epoch, asked.seq, u64_at(d, 28), std::move(got)}, d);
}

void state_chunk_frame(bytes d) {
    const auto sender = d.size() >= 12 ? u32_at(d, 8) : 0;
    const auth::position at = d.size() >= 28 ? auth::position{u64_at(d, 12), u64_at(d, 20)} : auth::position{};
    constexpr std::size_t limit = 1u << 20;
    shadow::state_collector c(the_key, sender, at, limit);
    auto r = c.accept(d);
    if (refusals(c) != (r ? 1u : 0u)) fail("a state chunk was not counted exactly once");
    if (c.bytes().size() > limit) fail("a state collector holds more than its limit");
    if (r) {
        if (r->detail.empty()) fail("a state chunk refusal without a reason");
        return;
    }
    auto opened = shadow::open(d, the_key);
    if (!std::holds_alternative<shadow::envelope>(opened)) fail("took a state chunk that open() refuses");
    reseals_same(std::get<shadow::envelope>(opened), d);
    if (c.chunks() != 1) fail("a state chunk taken but not counted");
    if (c.complete() && !c.error().empty() && !c.bytes().empty()) fail("a state with an error but bytes");
    auto twice = c.accept(d);
    if (!twice || twice->why != shadow::refusal::out_of_order) fail("a state chunk taken twice was not out of order");
}

void state_restored_frame(bytes d) {
    const auto node = d.size() >= 12 ? u32_at(d, 8) : 0;
    const auth::position asked = d.size() >= 28 ? auth::position{u64_at(d, 12), u64_at(d, 20)} : auth::position{};
    auto r = shadow::open_state_restored(d, the_key, node, asked);
    if (auto* why = std::get_if<shadow::refused>(&r)) {
        if (why->detail.empty()) fail("a state restored refusal without a reason");
        return;
    }
    reseals_same(shadow::envelope{node, asked.epoch, asked.seq, u64_at(d, 28), std::get<shadow::state_restored>(r)}, d);
}

void signed_too(bytes d, void (*check)(bytes)) {
    check(d);
    if (d.size() < shadow::header_size || d.size() > shadow::max_frame) return;
    std::vector<std::uint8_t> copy(d.begin(), d.end());
    auth::sign(copy, the_key);
    check(copy);
}

void filter_program(bytes d) {
    if (d.empty()) return;
    const std::uint8_t family = d[0] & 1 ? AF_INET6 : AF_INET;
    sockdiag::filter f;
    f.wildcard = d[0] & 2;
    // At most 64 addresses: every check runs the program once per address,
    // so more would be slow and find nothing new (the unit test has max_locals).
    for (std::size_t i = 1; i + 4 <= d.size() && f.locals.size() < 64; i += 4)
        f.locals.push_back(u32_at(d, i));
    std::vector<std::uint8_t> bc;
    try {
        bc = sockdiag::bytecode(f, family);
    } catch (const std::invalid_argument&) {
        if (!f.locals.empty() || f.wildcard) fail("a filter with something to ask was refused");
        return;
    }
    if (!cg::test::bytecode_audit(bc)) fail("the kernel's audit would refuse the filter program");
    auto sock_of = [&](cg::common::ipv4_addr a) {
        return family == AF_INET ? cg::test::v4_sock(a) : cg::test::v4_mapped_sock(a);
    };
    for (const auto a : f.locals)
        if (!cg::test::bytecode_takes(bc, sock_of(a))) fail("the program drops an asked address");
    // Addresses next to the asked ones: taken only when asked themselves.
    for (const auto a : f.locals)
        for (const auto probe : {a + 1, a - 1, a ^ 0x80000000u}) {
            const bool asked = std::ranges::find(f.locals, probe) != f.locals.end() ||
                               (family == AF_INET && f.wildcard && probe == 0);
            if (cg::test::bytecode_takes(bc, sock_of(probe)) != asked) fail("the program takes an address not asked");
        }
    const auto any = family == AF_INET ? cg::test::v4_sock(0) : cg::test::v6_sock({});
    const bool any_asked = f.wildcard || (family == AF_INET && std::ranges::find(f.locals, 0u) != f.locals.end());
    if (cg::test::bytecode_takes(bc, any) != any_asked) fail("the wildcard socket taken or dropped wrongly");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const bytes in(data + 1, size - 1);
    switch (data[0] % 7) {
        case 0:
            sock_diag_message(in);
            break;
        case 1:
            signed_too(in, query_frame);
            break;
        case 2:
            signed_too(in, chunk_frame);
            break;
        case 4:
            signed_too(in, restored_frame);
            break;
        case 5:
            signed_too(in, state_chunk_frame);
            break;
        case 6:
            signed_too(in, state_restored_frame);
            break;
        default:
            filter_program(in);
    }
    return 0;
}
