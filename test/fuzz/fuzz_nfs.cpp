// libFuzzer harness for the NFS parsers (dataplane/mirror/nfs.hpp): the
// input is one ONC RPC record, parsed as a call and as the reply to every
// NFSv3, MOUNT3 and NFSv4 procedure (and one past each program's last, and
// an unknown program), with and without RPCSEC_GSS integrity; each both
// whole and as if held by its first half (a record longer than the
// framer's cap).
//
// Checked (a violation aborts, which libFuzzer reports as a crash), besides
// ASan's and UBSan's own checks that nothing is read past the record:
//  - an error has a name, and the message keeps the record's length;
//  - a parsed message is of the kind asked, its file handle within its
//    protocol's bound, its ops listed only below their count;
//  - a parsed record's XID and kind are what peek_rpc says;
//  - a record held by its prefix parses to nothing the whole record does
//    not say (NFSv3 and MOUNT3: the same fields; NFSv4: the same or unset).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>

#include "dataplane/mirror/nfs.hpp"

namespace {

using namespace cg::dp::mirror;

[[noreturn]] void fail(const char* what, const rpc_call_key& k) {
    std::fprintf(stderr, "fuzz_nfs: %s (proto %d, procedure %u)\n", what, static_cast<int>(k.proto), k.procedure);
    std::abort();
}

template <class T>
bool same_or_unset(T part, T whole) {
    return part == whole || part == T{};
}

void check_message(const app_message& m, msg_kind kind, std::uint32_t total, const rpc_call_key& k,
                   std::span<const std::uint8_t> record) {
    if (m.kind != kind) fail("a message of the other kind", k);
    if (m.len != total) fail("the message lost the record's length", k);
    const std::size_t fh_max = m.proto == app_proto::nfs4 ? nfs4_fh_max : nfs3_fh_max;
    if (m.fh.len > fh_max) fail("a file handle past its protocol's bound", k);
    for (std::size_t i = m.n_ops; i < app_message::max_ops; ++i)
        if (m.ops[i] != 0) fail("an op listed past the COMPOUND's count", k);
    std::uint32_t xid = 0;
    msg_kind peeked{};
    if (peek_rpc(record, xid, peeked) || xid != m.id || peeked != kind) fail("peek_rpc disagrees with the parse", k);
}

/// The prefix's message says nothing the whole record's does not.
void check_within(const app_message& part, const app_message& whole, const rpc_call_key& k) {
    const bool exact = whole.proto != app_proto::nfs4;
    const auto field = [&](auto p, auto w) { return exact ? p == w : same_or_unset(p, w); };
    bool ok = part.proto == whole.proto && part.id == whole.id && part.procedure == whole.procedure &&
              part.status == whole.status && part.n_ops == whole.n_ops && field(part.offset, whole.offset) &&
              field(part.count, whole.count) && field(part.stable, whole.stable);
    ok = ok && (part.fh.len == whole.fh.len || (!exact && part.fh.empty())) &&
         std::equal(part.fh.bytes().begin(), part.fh.bytes().end(), whole.fh.b.begin());
    for (std::size_t i = 0; i < app_message::max_ops; ++i) ok = ok && same_or_unset(part.ops[i], whole.ops[i]);
    if (!ok) fail("the record's prefix parsed to other fields than the record", k);
}

template <class Parse>
void check_both(std::span<const std::uint8_t> record, msg_kind kind, const rpc_call_key& k, Parse parse) {
    const auto total = static_cast<std::uint32_t>(record.size());
    app_message whole;
    const std::optional<rpc_error> err = parse(record, total, whole);
    if (err && rpc_error_names.at(static_cast<std::size_t>(*err)).empty()) fail("an error without a name", k);
    if (whole.len != total) fail("the message lost the record's length", k);
    if (!err) check_message(whole, kind, total, k, record);

    const auto half = record.first(record.size() / 2);
    app_message part;
    const std::optional<rpc_error> perr = parse(half, total, part);
    if (perr) return;
    check_message(part, kind, total, k, half);
    if (!err) check_within(part, whole, k);
}

constexpr rpc_call_key keys[] = {
    {app_proto::rpc, 0},
    {app_proto::mount3, 0}, {app_proto::mount3, 1}, {app_proto::mount3, 2}, {app_proto::mount3, 3},
    {app_proto::mount3, 4}, {app_proto::mount3, 5}, {app_proto::mount3, 6},
    {app_proto::nfs4, 0}, {app_proto::nfs4, 1}, {app_proto::nfs4, 2}, {app_proto::nfs4, 1, 2},
    {app_proto::nfs3, 6, 2}, {app_proto::nfs3, 6, 3},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> record(data, size);
    rpc_call_key from_call;
    app_message call;
    parse_rpc_call(record, static_cast<std::uint32_t>(size), call, &from_call);
    check_both(record, msg_kind::call, from_call, [](auto b, std::uint32_t total, app_message& m) {
        return parse_rpc_call(b, total, m);
    });
    const auto as_reply = [&](const rpc_call_key& k) {
        check_both(record, msg_kind::reply, k, [&](auto b, std::uint32_t total, app_message& m) {
            const auto err = parse_rpc_reply(b, total, k, m);
            if (!err && (m.proto != k.proto || m.procedure != k.procedure)) fail("a reply not of its call", k);
            return err;
        });
    };
    for (std::uint32_t proc = 0; proc <= 22; ++proc) as_reply({app_proto::nfs3, proc});
    for (const rpc_call_key& k : keys) as_reply(k);
    as_reply(from_call);
    return 0;
}
