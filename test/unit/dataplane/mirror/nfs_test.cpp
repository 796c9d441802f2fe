#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/mirror/nfs.hpp"
#include "dataplane/mirror/xdr.hpp"

using namespace cg::dp::mirror;

namespace {

using bytes = std::vector<std::uint8_t>;
using build = std::function<void(xdr_writer&)>;

const bytes fh_a = {0x01, 0x00, 0x07, 0x00, 0xaa, 0xbb, 0xcc, 0xdd, 0x10, 0x20, 0x30, 0x40, 0x55, 0x66, 0x77, 0x88};
const bytes fh_b = {0x43, 0x00, 0x02, 0x81, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
                    0xcc, 0xdd, 0xee, 0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};  // 28 bytes: padded
const bytes fh4(60, 0x4f);

struct auth {
    std::uint32_t flavor = 0;
    bytes body;
};
auth auth_none() { return {}; }
auth auth_sys(std::size_t gids = 3, std::string machine = "client-198-18-0-10") {
    xdr_writer w;
    w.u32(0x5f3a1c00).string(machine).u32(1000).u32(1000).u32(static_cast<std::uint32_t>(gids));
    for (std::size_t i = 0; i < gids; ++i) w.u32(static_cast<std::uint32_t>(100 + i));
    return {1, w.take()};
}
/// An RPCSEC_GSS credential (RFC 2203): gss_proc, sequence number, service, handle.
auth auth_gss(std::uint32_t gss_proc, std::uint32_t service) {
    xdr_writer w;
    w.u32(1).u32(gss_proc).u32(42).u32(service).opaque(bytes{1, 2, 3, 4, 5, 6, 7, 8});
    return {6, w.take()};
}

bytes call(std::uint32_t xid, std::uint32_t prog, std::uint32_t vers, std::uint32_t proc, const build& args,
           const auth& cred = auth_sys()) {
    xdr_writer w;
    w.u32(xid).u32(0).u32(2).u32(prog).u32(vers).u32(proc);
    w.u32(cred.flavor).opaque(cred.body).u32(0).u32(0);
    if (args) args(w);
    return w.take();
}
bytes nfs3_call(std::uint32_t proc, const build& args, const auth& cred = auth_sys()) {
    return call(0x3000 + proc, rpc_prog_nfs, 3, proc, args, cred);
}
bytes mount_call(std::uint32_t proc, const build& args) { return call(0x5000 + proc, rpc_prog_mount, 3, proc, args); }
bytes nfs4_call(const std::string& tag, std::uint32_t minor, std::uint32_t n_ops, const build& ops) {
    return call(0x4000, rpc_prog_nfs, 4, nfs4::compound, [&](xdr_writer& w) {
        w.string(tag).u32(minor).u32(n_ops);
        ops(w);
    });
}
/// An accepted SUCCESS reply, with an AUTH_NONE verifier.
bytes reply(std::uint32_t xid, const build& results) {
    xdr_writer w;
    w.u32(xid).u32(1).u32(0).u32(0).u32(0).u32(0);
    if (results) results(w);
    return w.take();
}

// NFSv3 shapes.
void fh(xdr_writer& w, const bytes& h) { w.opaque(h); }
void diropargs(xdr_writer& w, const bytes& h, const std::string& name) { w.opaque(h).string(name); }
void sattr3(xdr_writer& w) {  // mode and size set, mtime to the server's, the rest unchanged
    w.boolean(true).u32(0644).boolean(false).boolean(false).boolean(true).u64(4096).u32(0).u32(1);
}
void fattr3(xdr_writer& w) {
    w.u32(1).u32(0644).u32(1).u32(1000).u32(1000).u64(12345).u64(16384).u32(0).u32(0).u64(7).u64(99);
    for (int i = 0; i < 3; ++i) w.u32(1700000000).u32(0);
}
void post_op_attr(xdr_writer& w) {
    w.boolean(true);
    fattr3(w);
}
void wcc_data(xdr_writer& w) {
    w.boolean(true).u64(12345).u32(1700000000).u32(0).u32(1700000000).u32(0);
    post_op_attr(w);
}
bytes verifier() { return {1, 2, 3, 4, 5, 6, 7, 8}; }

// NFSv4 shapes.
void stateid(xdr_writer& w) { w.u32(1).fixed(bytes(12, 0x5a)); }
void bitmap(xdr_writer& w) { w.u32(2).u32(0x0010011a).u32(0x00b0a23a); }
void fattr4(xdr_writer& w) {
    bitmap(w);
    w.opaque(bytes(20, 0x11));
}
void sequence_args(xdr_writer& w) { w.u32(nfs4::sequence).fixed(bytes(16, 0x5e)).u32(7).u32(0).u32(63).boolean(false); }
void sequence_res(xdr_writer& w) { w.u32(nfs4::sequence).u32(0).fixed(bytes(16, 0x5e)).u32(7).u32(0).u32(63).u32(63).u32(0); }

struct expect {
    app_proto proto = app_proto::nfs3;
    std::uint32_t procedure = 0;
    bytes fh;
    std::uint64_t offset = 0;
    std::uint32_t count = 0;
    std::uint8_t stable = 0;
    std::uint32_t status = 0;
    std::vector<std::uint16_t> ops;
    std::uint16_t n_ops = 0;
};

struct row {
    const char* what;
    bytes record;
    expect want;
    bool read_to_end = true;  ///< every byte is read: any shorter record is an error
};

void check_fields(const app_message& m, const expect& e) {
    CHECK(m.proto == e.proto);
    CHECK(m.procedure == e.procedure);
    CHECK(bytes(m.fh.bytes().begin(), m.fh.bytes().end()) == e.fh);
    CHECK(m.offset == e.offset);
    CHECK(m.count == e.count);
    CHECK(m.stable == e.stable);
    CHECK(m.status == e.status);
    CHECK(m.n_ops == e.n_ops);
    for (std::size_t i = 0; i < app_message::max_ops; ++i) {
        INFO("op " << i);
        CHECK(m.ops[i] == (i < e.ops.size() ? e.ops[i] : 0));
    }
}

/// `a` says nothing `b` does not: each field as b's, or not set (a
/// COMPOUND held by its prefix lists its ops as far as the prefix goes).
bool within_fields(const app_message& a, const app_message& b) {
    const auto same_or_unset = [](auto x, auto y) { return x == y || x == decltype(x){}; };
    for (std::size_t i = 0; i < app_message::max_ops; ++i)
        if (!same_or_unset(a.ops[i], b.ops[i])) return false;
    return a.proto == b.proto && a.kind == b.kind && a.id == b.id && a.procedure == b.procedure &&
           a.status == b.status && a.n_ops == b.n_ops && same_or_unset(a.offset, b.offset) &&
           same_or_unset(a.count, b.count) && same_or_unset(a.stable, b.stable) &&
           (a.fh.empty() || std::equal(a.fh.bytes().begin(), a.fh.bytes().end(), b.fh.bytes().begin(), b.fh.bytes().end()));
}

bool same_fields(const app_message& a, const app_message& b) {
    return a.proto == b.proto && a.kind == b.kind && a.id == b.id && a.procedure == b.procedure &&
           a.status == b.status && a.fh.bytes().size() == b.fh.bytes().size() &&
           std::equal(a.fh.bytes().begin(), a.fh.bytes().end(), b.fh.bytes().begin()) && a.offset == b.offset &&
           a.count == b.count && a.stable == b.stable && a.n_ops == b.n_ops;
}

using parse_fn = std::function<std::optional<rpc_error>(std::span<const std::uint8_t>, std::uint32_t, app_message&)>;

/// The record parses to `want`; every shorter record is an error; every
/// prefix of it (the record held by its first bytes) is either
/// prefix_too_short or the same message (NFSv4: a message within it).
void check_row(const row& r, const parse_fn& parse, msg_kind kind) {
    INFO(r.what);
    app_message m;
    const auto err = parse(r.record, static_cast<std::uint32_t>(r.record.size()), m);
    REQUIRE_FALSE(err.has_value());
    CHECK(m.kind == kind);
    CHECK(m.len == r.record.size());
    check_fields(m, r.want);
    for (std::size_t n = 0; n < r.record.size(); ++n) {
        INFO("first " << n << " bytes");
        const std::span<const std::uint8_t> part(r.record.data(), n);
        app_message t;
        if (r.read_to_end) CHECK(parse(part, static_cast<std::uint32_t>(n), t).has_value());
        app_message p;
        const auto perr = parse(part, static_cast<std::uint32_t>(r.record.size()), p);
        if (perr)
            CHECK(*perr == rpc_error::prefix_too_short);
        else if (m.proto == app_proto::nfs4)
            CHECK(within_fields(p, m));
        else
            CHECK(same_fields(p, m));
    }
}

parse_fn as_call() {
    return [](std::span<const std::uint8_t> b, std::uint32_t total, app_message& m) { return parse_rpc_call(b, total, m); };
}
parse_fn as_reply(rpc_call_key key) {
    return [key](std::span<const std::uint8_t> b, std::uint32_t total, app_message& m) {
        return parse_rpc_reply(b, total, key, m);
    };
}

std::vector<row> nfs3_calls() {
    const auto with_fh = [](std::uint32_t proc) { return expect{app_proto::nfs3, proc, fh_a}; };
    return {
        {"NULL", nfs3_call(nfs3::null, {}), {app_proto::nfs3, nfs3::null}},
        {"GETATTR", nfs3_call(nfs3::getattr, [](auto& w) { fh(w, fh_a); }), with_fh(nfs3::getattr)},
        {"SETATTR with a guard", nfs3_call(nfs3::setattr, [](auto& w) { fh(w, fh_a); sattr3(w); w.boolean(true).u32(1).u32(2); }),
         with_fh(nfs3::setattr)},
        {"LOOKUP (AUTH_NONE)", nfs3_call(nfs3::lookup, [](auto& w) { diropargs(w, fh_a, "file.txt"); }, auth_none()),
         with_fh(nfs3::lookup)},
        {"ACCESS", nfs3_call(nfs3::access, [](auto& w) { fh(w, fh_a); w.u32(0x3f); }), with_fh(nfs3::access)},
        {"READLINK", nfs3_call(nfs3::readlink, [](auto& w) { fh(w, fh_a); }), with_fh(nfs3::readlink)},
        {"READ", nfs3_call(nfs3::read, [](auto& w) { fh(w, fh_a); w.u64(0x100000000ull).u32(65536); }),
         {app_proto::nfs3, nfs3::read, fh_a, 0x100000000ull, 65536}},
        {"WRITE FILE_SYNC", nfs3_call(nfs3::write, [](auto& w) { fh(w, fh_a); w.u64(8192).u32(5).u32(2).opaque(bytes{'h', 'e', 'l', 'l', 'o'}); }),
         {app_proto::nfs3, nfs3::write, fh_a, 8192, 5, 2}},
        {"CREATE GUARDED", nfs3_call(nfs3::create, [](auto& w) { diropargs(w, fh_a, "new"); w.u32(1); sattr3(w); }),
         with_fh(nfs3::create)},
        {"CREATE EXCLUSIVE", nfs3_call(nfs3::create, [](auto& w) { diropargs(w, fh_a, "new"); w.u32(2).fixed(verifier()); }),
         with_fh(nfs3::create)},
        {"MKDIR", nfs3_call(nfs3::mkdir, [](auto& w) { diropargs(w, fh_a, "dir"); sattr3(w); }), with_fh(nfs3::mkdir)},
        {"SYMLINK", nfs3_call(nfs3::symlink, [](auto& w) { diropargs(w, fh_a, "ln"); sattr3(w); w.string("../target"); }),
         with_fh(nfs3::symlink)},
        {"MKNOD CHR", nfs3_call(nfs3::mknod, [](auto& w) { diropargs(w, fh_a, "tty"); w.u32(4); sattr3(w); w.u32(4).u32(1); }),
         with_fh(nfs3::mknod)},
        {"MKNOD FIFO", nfs3_call(nfs3::mknod, [](auto& w) { diropargs(w, fh_a, "fifo"); w.u32(7); sattr3(w); }), with_fh(nfs3::mknod)},
        {"REMOVE", nfs3_call(nfs3::remove, [](auto& w) { diropargs(w, fh_a, "old"); }), with_fh(nfs3::remove)},
        {"RMDIR", nfs3_call(nfs3::rmdir, [](auto& w) { diropargs(w, fh_a, "dir"); }), with_fh(nfs3::rmdir)},
        {"RENAME", nfs3_call(nfs3::rename, [](auto& w) { diropargs(w, fh_a, "a"); diropargs(w, fh_b, "b"); }), with_fh(nfs3::rename)},
        {"LINK", nfs3_call(nfs3::link, [](auto& w) { fh(w, fh_a); diropargs(w, fh_b, "hard"); }), with_fh(nfs3::link)},
        {"READDIR", nfs3_call(nfs3::readdir, [](auto& w) { fh(w, fh_a); w.u64(0).fixed(verifier()).u32(4096); }), with_fh(nfs3::readdir)},
        {"READDIRPLUS", nfs3_call(nfs3::readdirplus, [](auto& w) { fh(w, fh_a); w.u64(3).fixed(verifier()).u32(4096).u32(32768); }),
         with_fh(nfs3::readdirplus)},
        {"FSSTAT", nfs3_call(nfs3::fsstat, [](auto& w) { fh(w, fh_a); }), with_fh(nfs3::fsstat)},
        {"FSINFO", nfs3_call(nfs3::fsinfo, [](auto& w) { fh(w, fh_a); }), with_fh(nfs3::fsinfo)},
        {"PATHCONF", nfs3_call(nfs3::pathconf, [](auto& w) { fh(w, fh_a); }), with_fh(nfs3::pathconf)},
        {"COMMIT", nfs3_call(nfs3::commit, [](auto& w) { fh(w, fh_a); w.u64(4096).u32(1 << 20); }),
         {app_proto::nfs3, nfs3::commit, fh_a, 4096, 1 << 20}},
        // The first handle names the message, even empty: the prefix of a
        // record held by it must not name another (found by fuzz_nfs).
        {"LINK, an empty first handle", nfs3_call(nfs3::link, [](auto& w) { fh(w, {}); diropargs(w, fh_b, "hard"); }),
         {app_proto::nfs3, nfs3::link}},
        {"GETATTR, 28-byte handle", nfs3_call(nfs3::getattr, [](auto& w) { fh(w, fh_b); }), {app_proto::nfs3, nfs3::getattr, fh_b}},
        {"GETATTR, 64-byte handle", nfs3_call(nfs3::getattr, [](auto& w) { fh(w, bytes(64, 7)); }),
         {app_proto::nfs3, nfs3::getattr, bytes(64, 7)}},
        {"GETATTR, AUTH_SYS with 16 gids and a 255-byte name",
         nfs3_call(nfs3::getattr, [](auto& w) { fh(w, fh_a); }, auth_sys(16, std::string(255, 'm'))), with_fh(nfs3::getattr)},
        {"GETATTR, another flavor skipped by its length", nfs3_call(nfs3::getattr, [](auto& w) { fh(w, fh_a); }, {3, bytes(12, 9)}),
         with_fh(nfs3::getattr)},
        {"GETATTR, RPCSEC_GSS without protection", nfs3_call(nfs3::getattr, [](auto& w) { fh(w, fh_a); }, auth_gss(0, 1)),
         with_fh(nfs3::getattr)},
        {"READ, RPCSEC_GSS integrity",
         nfs3_call(nfs3::read, [](auto& w) {
             w.u32(4 + 4 + 16 + 12).u32(42);  // databody_integ: length, sequence number, arguments
             fh(w, fh_a);
             w.u64(0).u32(4096);
             w.opaque(bytes(16, 0xc5));  // checksum
         }, auth_gss(0, 2)),
         {app_proto::nfs3, nfs3::read, fh_a, 0, 4096}},
        {"RPCSEC_GSS context creation: a token", nfs3_call(nfs3::null, [](auto& w) { w.opaque(bytes(40, 0x60)); }, auth_gss(1, 1)),
         {app_proto::nfs3, nfs3::null}},
    };
}

std::vector<row> nfs3_replies() {
    const auto st = [](std::uint32_t proc, std::uint32_t status = 0) { return expect{app_proto::nfs3, proc, {}, 0, 0, 0, status}; };
    return {
        {"NULL", reply(1, {}), st(nfs3::null)},
        {"GETATTR", reply(1, [](auto& w) { w.u32(0); fattr3(w); }), st(nfs3::getattr)},
        {"GETATTR NFS3ERR_STALE", reply(1, [](auto& w) { w.u32(70); }), st(nfs3::getattr, 70)},
        {"SETATTR", reply(1, [](auto& w) { w.u32(0); wcc_data(w); }), st(nfs3::setattr)},
        {"LOOKUP", reply(1, [](auto& w) { w.u32(0); fh(w, fh_b); post_op_attr(w); post_op_attr(w); }),
         {app_proto::nfs3, nfs3::lookup, fh_b}},
        {"LOOKUP NFS3ERR_NOENT", reply(1, [](auto& w) { w.u32(2); post_op_attr(w); }), st(nfs3::lookup, 2)},
        {"ACCESS", reply(1, [](auto& w) { w.u32(0); post_op_attr(w); w.u32(0x1f); }), st(nfs3::access)},
        {"READLINK", reply(1, [](auto& w) { w.u32(0); post_op_attr(w); w.string("../target"); }), st(nfs3::readlink)},
        {"READ", reply(1, [](auto& w) { w.u32(0); post_op_attr(w); w.u32(7).boolean(true).opaque(bytes(7, 0x61)); }),
         {app_proto::nfs3, nfs3::read, {}, 0, 7}},
        {"READ NFS3ERR_IO", reply(1, [](auto& w) { w.u32(5); w.boolean(false); }), st(nfs3::read, 5)},
        {"WRITE", reply(1, [](auto& w) { w.u32(0); wcc_data(w); w.u32(5).u32(1).fixed(verifier()); }),
         {app_proto::nfs3, nfs3::write, {}, 0, 5, 1}},
        {"CREATE", reply(1, [](auto& w) { w.u32(0).boolean(true); fh(w, fh_b); post_op_attr(w); wcc_data(w); }),
         {app_proto::nfs3, nfs3::create, fh_b}},
        {"CREATE without a handle", reply(1, [](auto& w) { w.u32(0).boolean(false).boolean(false); wcc_data(w); }), st(nfs3::create)},
        {"CREATE NFS3ERR_EXIST", reply(1, [](auto& w) { w.u32(17); wcc_data(w); }), st(nfs3::create, 17)},
        {"MKDIR", reply(1, [](auto& w) { w.u32(0).boolean(true); fh(w, fh_b); post_op_attr(w); wcc_data(w); }),
         {app_proto::nfs3, nfs3::mkdir, fh_b}},
        {"SYMLINK", reply(1, [](auto& w) { w.u32(0).boolean(true); fh(w, fh_b); post_op_attr(w); wcc_data(w); }),
         {app_proto::nfs3, nfs3::symlink, fh_b}},
        {"MKNOD", reply(1, [](auto& w) { w.u32(0).boolean(true); fh(w, fh_b); post_op_attr(w); wcc_data(w); }),
         {app_proto::nfs3, nfs3::mknod, fh_b}},
        {"REMOVE", reply(1, [](auto& w) { w.u32(0); wcc_data(w); }), st(nfs3::remove)},
        {"RMDIR", reply(1, [](auto& w) { w.u32(0); wcc_data(w); }), st(nfs3::rmdir)},
        {"RENAME", reply(1, [](auto& w) { w.u32(0); wcc_data(w); wcc_data(w); }), st(nfs3::rename)},
        {"LINK", reply(1, [](auto& w) { w.u32(0); post_op_attr(w); wcc_data(w); }), st(nfs3::link)},
        {"READDIR", reply(1, [](auto& w) {
             w.u32(0); post_op_attr(w); w.fixed(verifier());
             w.boolean(true).u64(11).string(".").u64(1).boolean(true).u64(12).string("file.txt").u64(2);
             w.boolean(false).boolean(true);
         }), st(nfs3::readdir)},
        {"READDIRPLUS", reply(1, [](auto& w) {
             w.u32(0); post_op_attr(w); w.fixed(verifier());
             w.boolean(true).u64(12).string("file.txt").u64(2);
             post_op_attr(w);
             w.boolean(true);
             fh(w, fh_b);
             w.boolean(false).boolean(false);
         }), st(nfs3::readdirplus)},
        {"FSSTAT", reply(1, [](auto& w) { w.u32(0); post_op_attr(w); for (int i = 0; i < 6; ++i) w.u64(1000); w.u32(0); }),
         st(nfs3::fsstat)},
        {"FSINFO", reply(1, [](auto& w) {
             w.u32(0); post_op_attr(w);
             for (int i = 0; i < 7; ++i) w.u32(1 << 20);
             w.u64(~0ull).u32(0).u32(1).u32(0x1b);
         }), st(nfs3::fsinfo)},
        {"PATHCONF", reply(1, [](auto& w) { w.u32(0); post_op_attr(w); w.u32(255).u32(255).boolean(true).boolean(false).boolean(true).boolean(true); }),
         st(nfs3::pathconf)},
        {"COMMIT", reply(1, [](auto& w) { w.u32(0); wcc_data(w); w.fixed(verifier()); }), st(nfs3::commit)},
    };
}

std::vector<row> mount_calls() {
    const auto m = [](std::uint32_t proc) { return expect{app_proto::mount3, proc}; };
    return {
        {"NULL", mount_call(mount3::null, {}), m(mount3::null)},
        {"MNT", mount_call(mount3::mnt, [](auto& w) { w.string("/export"); }), m(mount3::mnt)},
        {"DUMP", mount_call(mount3::dump, {}), m(mount3::dump)},
        {"UMNT", mount_call(mount3::umnt, [](auto& w) { w.string("/export"); }), m(mount3::umnt)},
        {"UMNTALL", mount_call(mount3::umntall, {}), m(mount3::umntall)},
        {"EXPORT", mount_call(mount3::export_, {}), m(mount3::export_)},
    };
}

std::vector<row> mount_replies() {
    return {
        {"MNT", reply(1, [](auto& w) { w.u32(0); fh(w, fh_b); w.u32(2).u32(1).u32(390003); }), {app_proto::mount3, mount3::mnt, fh_b}},
        {"MNT MNT3ERR_ACCES", reply(1, [](auto& w) { w.u32(13); }), {app_proto::mount3, mount3::mnt, {}, 0, 0, 0, 13}},
        {"DUMP", reply(1, [](auto& w) { w.boolean(true).string("client").string("/export").boolean(false); }),
         {app_proto::mount3, mount3::dump}},
        {"UMNT", reply(1, {}), {app_proto::mount3, mount3::umnt}},
        {"EXPORT", reply(1, [](auto& w) {
             w.boolean(true).string("/export").boolean(true).string("198.18.0.0/15").boolean(true).string("admin");
             w.boolean(false).boolean(true).string("/pub").boolean(false).boolean(false);
         }), {app_proto::mount3, mount3::export_}},
    };
}

std::vector<row> nfs4_calls() {
    const auto v4 = [](std::vector<std::uint16_t> ops, bytes h = {}, std::uint64_t off = 0, std::uint32_t cnt = 0,
                       std::uint8_t stable = 0) {
        return expect{app_proto::nfs4, nfs4::compound, std::move(h), off, cnt, stable, 0, ops,
                      static_cast<std::uint16_t>(ops.size())};
    };
    std::vector<row> rows = {
        {"NULL", call(1, rpc_prog_nfs, 4, nfs4::null, {}), {app_proto::nfs4, nfs4::null}},
        {"PUTFH READ", nfs4_call("read", 0, 2, [](auto& w) {
             w.u32(nfs4::putfh).opaque(fh4);
             w.u32(nfs4::read); stateid(w); w.u64(1 << 20).u32(65536);
         }), v4({nfs4::putfh, nfs4::read}, fh4, 1 << 20, 65536)},
        {"PUTFH WRITE", nfs4_call("write", 0, 2, [](auto& w) {
             w.u32(nfs4::putfh).opaque(fh4);
             w.u32(nfs4::write); stateid(w); w.u64(4096).u32(1).opaque(bytes(10, 0x77));
         }), v4({nfs4::putfh, nfs4::write}, fh4, 4096, 10, 1)},
        {"SEQUENCE PUTFH GETATTR", nfs4_call("", 1, 3, [](auto& w) {
             sequence_args(w);
             w.u32(nfs4::putfh).opaque(fh4);
             w.u32(nfs4::getattr); bitmap(w);
         }), v4({nfs4::sequence, nfs4::putfh, nfs4::getattr}, fh4)},
        {"PUTROOTFH LOOKUP GETFH", nfs4_call("lookup", 0, 3, [](auto& w) {
             w.u32(nfs4::putrootfh).u32(nfs4::lookup).string("export").u32(nfs4::getfh);
         }), v4({nfs4::putrootfh, nfs4::lookup, nfs4::getfh})},
        {"SEQUENCE PUTFH OPEN GETFH GETATTR", nfs4_call("open", 1, 5, [](auto& w) {
             sequence_args(w);
             w.u32(nfs4::putfh).opaque(fh4);
             w.u32(nfs4::open).u32(0).u32(2).u32(0).u64(0x1234).opaque(bytes{'o', 'w', 'n'});
             w.u32(1).u32(1); fattr4(w);        // OPEN4_CREATE GUARDED4
             w.u32(0).string("new.txt");        // CLAIM_NULL
             w.u32(nfs4::getfh).u32(nfs4::getattr); bitmap(w);
         }), v4({nfs4::sequence, nfs4::putfh, nfs4::open, nfs4::getfh, nfs4::getattr}, fh4)},
        {"SETCLIENTID and its confirmation", nfs4_call("", 0, 2, [](auto& w) {
             w.u32(nfs4::setclientid).fixed(verifier()).opaque(bytes(24, 'c')).u32(0x40000000).string("tcp").string("198.18.0.10.3.1").u32(1);
             w.u32(nfs4::setclientid_confirm).u64(99).fixed(verifier());
         }), v4({nfs4::setclientid, nfs4::setclientid_confirm})},
        {"EXCHANGE_ID", nfs4_call("", 1, 1, [](auto& w) {
             w.u32(nfs4::exchange_id).fixed(verifier()).opaque(bytes(30, 'o')).u32(0x101).u32(0);
             w.u32(1).string("kernel.org").string("Linux").u64(0).u32(0);
         }), v4({nfs4::exchange_id})},
        {"CREATE_SESSION", nfs4_call("", 1, 1, [](auto& w) {
             w.u32(nfs4::create_session).u64(0x55).u32(1).u32(3);
             for (int c = 0; c < 2; ++c) { for (int i = 0; i < 6; ++i) w.u32(1 << 16); w.u32(0); }
             w.u32(0x40000000).u32(1).u32(1);
             w.u32(0).string("client").u32(0).u32(0).u32(0);  // AUTH_SYS parameters
         }), v4({nfs4::create_session})},
        {"PUTFH SAVEFH PUTFH LINK: the first handle", nfs4_call("link", 0, 4, [](auto& w) {
             w.u32(nfs4::putfh).opaque(fh4).u32(nfs4::savefh).u32(nfs4::putfh).opaque(fh_b).u32(nfs4::link).string("hard");
         }), v4({nfs4::putfh, nfs4::savefh, nfs4::putfh, nfs4::link}, fh4)},
        {"LOCK, SAVEFH, RENAME, REMOVE, COMMIT", nfs4_call("", 0, 6, [](auto& w) {
             w.u32(nfs4::putfh).opaque(fh4);
             w.u32(nfs4::lock).u32(2).boolean(false).u64(0).u64(~0ull).boolean(true).u32(1); stateid(w); w.u32(1).u64(7).opaque(bytes{'l'});
             w.u32(nfs4::savefh).u32(nfs4::rename).string("a").string("b").u32(nfs4::remove).string("c");
             w.u32(nfs4::commit).u64(0).u32(0);
         }), v4({nfs4::putfh, nfs4::lock, nfs4::savefh, nfs4::rename, nfs4::remove, nfs4::commit}, fh4)},
    };
    // More operations than the message lists: the count says them all.
    rows.push_back({"18 operations", nfs4_call("", 0, 18, [](auto& w) {
                        for (int i = 0; i < 18; ++i) w.u32(i % 2 ? nfs4::getfh : nfs4::putrootfh);
                    }),
                    [&] {
                        expect e = v4({});
                        for (int i = 0; i < 16; ++i) e.ops.push_back(i % 2 ? nfs4::getfh : nfs4::putrootfh);
                        e.n_ops = 18;
                        return e;
                    }()});
    // An operation decoded nowhere here ends the list, but not the message.
    rows.push_back({"an operation not decoded", nfs4_call("", 2, 3, [](auto& w) {
                        w.u32(nfs4::putfh).opaque(fh4).u32(nfs4::write_same).fixed(bytes(40, 0));
                    }),
                    [&] { expect e = v4({nfs4::putfh, nfs4::write_same}, fh4); e.n_ops = 3; return e; }(), false});
    return rows;
}

std::vector<row> nfs4_replies() {
    const auto v4 = [](std::vector<std::uint16_t> ops, bytes h = {}, std::uint32_t cnt = 0, std::uint8_t stable = 0,
                       std::uint32_t status = 0) {
        return expect{app_proto::nfs4, nfs4::compound, std::move(h), 0, cnt, stable, status, ops,
                      static_cast<std::uint16_t>(ops.size())};
    };
    return {
        {"NULL", reply(1, {}), {app_proto::nfs4, nfs4::null}},
        {"SEQUENCE PUTROOTFH LOOKUP GETFH GETATTR", reply(1, [](auto& w) {
             w.u32(0).string("").u32(5);
             sequence_res(w);
             w.u32(nfs4::putrootfh).u32(0).u32(nfs4::lookup).u32(0).u32(nfs4::getfh).u32(0).opaque(fh4);
             w.u32(nfs4::getattr).u32(0); fattr4(w);
         }), v4({nfs4::sequence, nfs4::putrootfh, nfs4::lookup, nfs4::getfh, nfs4::getattr}, fh4)},
        {"PUTFH READ", reply(1, [](auto& w) {
             w.u32(0).string("read").u32(2);
             w.u32(nfs4::putfh).u32(0).u32(nfs4::read).u32(0).boolean(true).opaque(bytes(9, 0x62));
         }), v4({nfs4::putfh, nfs4::read}, {}, 9)},
        {"PUTFH WRITE", reply(1, [](auto& w) {
             w.u32(0).string("write").u32(2);
             w.u32(nfs4::putfh).u32(0).u32(nfs4::write).u32(0).u32(10).u32(2).fixed(verifier());
         }), v4({nfs4::putfh, nfs4::write}, {}, 10, 2)},
        // The first result names the count, as the first WRITE of a call
        // does: a prefix that holds only the first says the same.
        {"WRITE WRITE: the first", reply(1, [](auto& w) {
             w.u32(0).string("").u32(2);
             w.u32(nfs4::write).u32(0).u32(1 << 19).u32(0).fixed(verifier());
             w.u32(nfs4::write).u32(0).u32(38).u32(2).fixed(verifier());
         }), v4({nfs4::write, nfs4::write}, {}, 1 << 19, 0)},
        {"OPEN with a read delegation, GETFH", reply(1, [](auto& w) {
             w.u32(0).string("").u32(3);
             w.u32(nfs4::putfh).u32(0);
             w.u32(nfs4::open).u32(0); stateid(w); w.boolean(true).u64(1).u64(2).u32(4); bitmap(w);
             w.u32(1); stateid(w); w.boolean(false).u32(0).u32(0).u32(0x1f).string("OWNER@");
             w.u32(nfs4::getfh).u32(0).opaque(fh4);
         }), v4({nfs4::putfh, nfs4::open, nfs4::getfh}, fh4)},
        {"EXCHANGE_ID CREATE_SESSION", reply(1, [](auto& w) {
             w.u32(0).string("").u32(2);
             w.u32(nfs4::exchange_id).u32(0).u64(0x55).u32(1).u32(0x10001).u32(0);
             w.u64(0).opaque(bytes(8, 's')).opaque(bytes(8, 's')).u32(0);
             w.u32(nfs4::create_session).u32(0).fixed(bytes(16, 0x5e)).u32(1).u32(3);
             for (int c = 0; c < 2; ++c) { for (int i = 0; i < 6; ++i) w.u32(1 << 16); w.u32(0); }
         }), v4({nfs4::exchange_id, nfs4::create_session})},
        {"OPEN NFS4ERR_NOENT ends the COMPOUND", reply(1, [](auto& w) {
             w.u32(2).string("").u32(3);
             sequence_res(w);
             w.u32(nfs4::putfh).u32(0).u32(nfs4::open).u32(2);
         }), v4({nfs4::sequence, nfs4::putfh, nfs4::open}, {}, 0, 0, 2)},
    };
}

rpc_call_key key_of(const row& r) { return {r.want.proto, r.want.procedure}; }

}  // namespace

TEST_CASE("NFSv3 calls of every procedure", "[nfs]") {
    for (const row& r : nfs3_calls()) check_row(r, as_call(), msg_kind::call);
}

TEST_CASE("NFSv3 replies of every procedure", "[nfs]") {
    for (const row& r : nfs3_replies()) check_row(r, as_reply(key_of(r)), msg_kind::reply);
}

TEST_CASE("MOUNT3 calls and replies", "[nfs]") {
    for (const row& r : mount_calls()) check_row(r, as_call(), msg_kind::call);
    for (const row& r : mount_replies()) check_row(r, as_reply(key_of(r)), msg_kind::reply);
}

TEST_CASE("NFSv4 COMPOUND calls and replies", "[nfs]") {
    for (const row& r : nfs4_calls()) check_row(r, as_call(), msg_kind::call);
    for (const row& r : nfs4_replies()) check_row(r, as_reply(key_of(r)), msg_kind::reply);
}

TEST_CASE("the RPC header: XID, kind and the program's protocol", "[nfs]") {
    app_message m;
    const bytes c = call(0xdeadbeef, 100000, 2, 3, [](auto& w) { w.u32(100003).u32(3).u32(6).u32(0); });  // GETPORT
    REQUIRE_FALSE(parse_rpc_call(c, static_cast<std::uint32_t>(c.size()), m));
    CHECK(m.proto == app_proto::rpc);
    CHECK(m.kind == msg_kind::call);
    CHECK(m.id == 0xdeadbeef);
    CHECK(m.procedure == 3);
    const bytes v2 = call(7, rpc_prog_nfs, 2, 1, {});
    REQUIRE_FALSE(parse_rpc_call(v2, static_cast<std::uint32_t>(v2.size()), m));
    CHECK(m.proto == app_proto::rpc);

    std::uint32_t xid = 0;
    msg_kind kind = msg_kind::reply;
    REQUIRE_FALSE(peek_rpc(c, xid, kind));
    CHECK(xid == 0xdeadbeef);
    CHECK(kind == msg_kind::call);
    const bytes r = reply(0x77, {});
    REQUIRE_FALSE(peek_rpc(r, xid, kind));
    CHECK(xid == 0x77);
    CHECK(kind == msg_kind::reply);
    CHECK(peek_rpc(std::span(r).first(7), xid, kind) == rpc_error::truncated);

    rpc_call_key key;
    const bytes g = nfs3_call(nfs3::getattr, [](auto& w) { fh(w, fh_a); }, auth_gss(0, 2));
    parse_rpc_call(g, static_cast<std::uint32_t>(g.size()), m, &key);
    CHECK(key.proto == app_proto::nfs3);
    CHECK(key.procedure == nfs3::getattr);
    CHECK(key.gss_service == 2);
}

TEST_CASE("RPC replies: accept and reject status", "[nfs]") {
    struct status_row {
        const char* what;
        bytes record;
        std::optional<rpc_error> err;
        std::uint32_t status;
        std::uint8_t gss_service = 0;  ///< of the call
    };
    const auto head = [](std::uint32_t reply_stat) {
        xdr_writer w;
        w.u32(9).u32(1).u32(reply_stat);
        return w;
    };
    const std::vector<status_row> rows = {
        {"PROG_UNAVAIL", head(0).u32(0).u32(0).u32(1).take(), std::nullopt, 1},
        {"PROG_MISMATCH", head(0).u32(0).u32(0).u32(2).u32(2).u32(3).take(), std::nullopt, 2},
        {"PROC_UNAVAIL", head(0).u32(0).u32(0).u32(3).take(), std::nullopt, 3},
        {"GARBAGE_ARGS", head(0).u32(0).u32(0).u32(4).take(), std::nullopt, 4},
        {"SYSTEM_ERR", head(0).u32(0).u32(0).u32(5).take(), std::nullopt, 5},
        {"accept_stat 6", head(0).u32(0).u32(0).u32(6).take(), rpc_error::bad_reply_stat, 6},
        {"denied RPC_MISMATCH", head(1).u32(0).u32(2).u32(2).take(), std::nullopt, rpc_status_denied},
        {"denied AUTH_ERROR", head(1).u32(1).u32(5).take(), std::nullopt, rpc_status_denied},
        {"denied, reject_stat 2", head(1).u32(2).take(), rpc_error::bad_reply_stat, rpc_status_denied},
        {"reply_stat 2", head(2).take(), rpc_error::bad_reply_stat, 0},
        {"a verifier over 400 bytes", head(0).u32(1).opaque(bytes(404, 0)).u32(0).take(), rpc_error::bad_auth, 0},
        {"a call", call(9, rpc_prog_nfs, 3, nfs3::null, {}), rpc_error::not_a_reply, 0},
        {"msg_type 2", xdr_writer().u32(9).u32(2).take(), rpc_error::bad_msg_type, 0},
        {"a result under RPCSEC_GSS privacy", head(0).u32(6).opaque(bytes(20, 1)).u32(0).u32(48).fixed(bytes(48, 0x99)).take(),
         rpc_error::body_encrypted, 0, 3},
        {"a result under RPCSEC_GSS integrity",
         head(0).u32(6).opaque(bytes(20, 1)).u32(0).u32(4 + 5 * 4).u32(42).u32(0).boolean(false).u32(0).boolean(true)
             .u32(0).opaque(bytes(16, 0xc5)).take(),
         std::nullopt, 0, 2},
    };
    for (const status_row& r : rows) {
        INFO(r.what);
        app_message m;
        const auto err = parse_rpc_reply(r.record, static_cast<std::uint32_t>(r.record.size()),
                                         {app_proto::nfs3, nfs3::read, r.gss_service}, m);
        CHECK(err == r.err);
        CHECK(m.id == 9);
        CHECK(m.status == r.status);
    }
}

TEST_CASE("malformed calls: each with its reason", "[nfs]") {
    struct bad_row {
        const char* what;
        bytes record;
        rpc_error err;
    };
    const std::vector<bad_row> rows = {
        {"a reply", reply(1, {}), rpc_error::not_a_call},
        {"msg_type 7", xdr_writer().u32(1).u32(7).take(), rpc_error::bad_msg_type},
        {"rpcvers 3", xdr_writer().u32(1).u32(0).u32(3).u32(rpc_prog_nfs).u32(3).u32(0).take(), rpc_error::bad_rpc_version},
        {"a credential over 400 bytes", nfs3_call(nfs3::null, {}, {1, bytes(404, 0)}), rpc_error::bad_auth},
        {"AUTH_SYS with 17 gids", nfs3_call(nfs3::null, {}, auth_sys(17)), rpc_error::bad_auth},
        {"AUTH_SYS with a 256-byte name", nfs3_call(nfs3::null, {}, auth_sys(1, std::string(256, 'm'))), rpc_error::bad_auth},
        {"AUTH_SYS body longer than its fields",
         nfs3_call(nfs3::null, {}, [] { auth a = auth_sys(); a.body.resize(a.body.size() + 4); return a; }()),
         rpc_error::bad_auth},
        {"AUTH_SYS body shorter than its fields",
         nfs3_call(nfs3::null, {}, [] { auth a = auth_sys(); a.body.resize(a.body.size() - 4); return a; }()),
         rpc_error::bad_auth},
        {"RPCSEC_GSS version 2", nfs3_call(nfs3::null, {}, [] { auth a = auth_gss(0, 1); a.body[3] = 2; return a; }()),
         rpc_error::bad_auth},
        {"RPCSEC_GSS privacy", nfs3_call(nfs3::getattr, [](auto& w) { w.opaque(bytes(32, 0xe1)); }, auth_gss(0, 3)),
         rpc_error::body_encrypted},
        {"NFSv3 procedure 22", nfs3_call(22, {}), rpc_error::unknown_procedure},
        {"MOUNT3 procedure 6", mount_call(6, {}), rpc_error::unknown_procedure},
        {"NFSv4 procedure 2", call(1, rpc_prog_nfs, 4, 2, {}), rpc_error::unknown_procedure},
        {"a 65-byte NFSv3 handle", nfs3_call(nfs3::getattr, [](auto& w) { fh(w, bytes(65, 1)); }), rpc_error::bad_length},
        {"a 129-byte NFSv4 handle", nfs4_call("", 0, 1, [](auto& w) { w.u32(nfs4::putfh).opaque(bytes(129, 1)); }),
         rpc_error::bad_length},
        {"a MOUNT path over 1024 bytes", mount_call(mount3::mnt, [](auto& w) { w.string(std::string(1025, '/')); }),
         rpc_error::bad_length},
        {"an XDR bool of 2 in a sattr3", nfs3_call(nfs3::setattr, [](auto& w) { fh(w, fh_a); w.u32(2); }), rpc_error::bad_value},
        {"WRITE stable_how 3", nfs3_call(nfs3::write, [](auto& w) { fh(w, fh_a); w.u64(0).u32(0).u32(3).u32(0); }),
         rpc_error::bad_value},
        {"CREATE mode 3", nfs3_call(nfs3::create, [](auto& w) { diropargs(w, fh_a, "x"); w.u32(3); }), rpc_error::bad_value},
        {"MKNOD type 8", nfs3_call(nfs3::mknod, [](auto& w) { diropargs(w, fh_a, "x"); w.u32(8); }), rpc_error::bad_value},
        {"WRITE data past the record", nfs3_call(nfs3::write, [](auto& w) { fh(w, fh_a); w.u64(0).u32(100).u32(0).u32(100); }),
         rpc_error::truncated},
        {"COMPOUND op count past the record", nfs4_call("", 0, 1000, [](auto& w) { w.u32(nfs4::getfh); }), rpc_error::truncated},
        {"OPEN claim 7", nfs4_call("", 0, 1, [](auto& w) {
             w.u32(nfs4::open).u32(0).u32(1).u32(0).u64(1).opaque(bytes{'o'}).u32(0).u32(7);
         }), rpc_error::bad_value},
    };
    for (const bad_row& r : rows) {
        INFO(r.what);
        app_message m;
        const auto err = parse_rpc_call(r.record, static_cast<std::uint32_t>(r.record.size()), m);
        REQUIRE(err.has_value());
        CHECK(*err == r.err);
        CHECK(m.id != 0);
        CHECK(!rpc_error_names[static_cast<std::size_t>(*err)].empty());
    }
}

TEST_CASE("records held by their prefix: a 1 MiB WRITE and READ reply", "[nfs]") {
    constexpr std::uint32_t mib = 1 << 20;
    constexpr std::size_t prefix = 2048;
    const auto head = [](const bytes& whole) { return std::span<const std::uint8_t>(whole.data(), prefix); };
    app_message m;

    const bytes w3 = nfs3_call(nfs3::write, [](auto& w) { fh(w, fh_a); w.u64(3 * mib).u32(mib).u32(0).opaque(bytes(mib, 0x33)); },
                               auth_sys(16, std::string(200, 'h')));
    REQUIRE_FALSE(parse_rpc_call(head(w3), static_cast<std::uint32_t>(w3.size()), m));
    CHECK(m.offset == 3 * mib);
    CHECK(m.count == mib);
    CHECK(bytes(m.fh.bytes().begin(), m.fh.bytes().end()) == fh_a);
    CHECK(m.len == w3.size());
    CHECK(parse_rpc_call(head(w3), static_cast<std::uint32_t>(prefix), m) == rpc_error::truncated);

    const bytes w4 = nfs4_call("", 1, 4, [](auto& w) {
        sequence_args(w);
        w.u32(nfs4::putfh).opaque(fh4);
        w.u32(nfs4::write); stateid(w); w.u64(mib).u32(2).opaque(bytes(mib, 0x44));
        w.u32(nfs4::getattr); bitmap(w);
    });
    REQUIRE_FALSE(parse_rpc_call(head(w4), static_cast<std::uint32_t>(w4.size()), m));
    CHECK(m.n_ops == 4);
    CHECK(m.ops[2] == nfs4::write);
    CHECK(m.ops[3] == 0);  // past the prefix: not known
    CHECK(m.offset == mib);
    CHECK(m.count == mib);
    CHECK(m.stable == 2);
    CHECK(bytes(m.fh.bytes().begin(), m.fh.bytes().end()) == fh4);
    REQUIRE_FALSE(parse_rpc_call(w4, static_cast<std::uint32_t>(w4.size()), m));
    CHECK(m.ops[3] == nfs4::getattr);

    const bytes r3 = reply(1, [](auto& w) { w.u32(0); post_op_attr(w); w.u32(mib).boolean(false).opaque(bytes(mib, 0x61)); });
    REQUIRE_FALSE(parse_rpc_reply(head(r3), static_cast<std::uint32_t>(r3.size()), {app_proto::nfs3, nfs3::read}, m));
    CHECK(m.count == mib);
    const bytes r4 = reply(1, [](auto& w) {
        w.u32(0).string("").u32(3);
        sequence_res(w);
        w.u32(nfs4::putfh).u32(0).u32(nfs4::read).u32(0).boolean(true).opaque(bytes(mib, 0x62));
    });
    REQUIRE_FALSE(parse_rpc_reply(head(r4), static_cast<std::uint32_t>(r4.size()), {app_proto::nfs4, nfs4::compound}, m));
    CHECK(m.count == mib);
    CHECK(m.n_ops == 3);
}
