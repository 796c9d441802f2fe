// The SMB2/3 parser (dataplane/mirror/smb2.hpp) on hand-built messages laid
// out as [MS-SMB2] 2.2 has them: what each message yields, compound chains
// and their related FileIds, async interim responses, opaque and SMB1
// payloads, and a table of malformed ones with the outcome each must get.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "dataplane/mirror/smb2.hpp"
#include "support/mirror_session.hpp"

using namespace cg::dp::mirror;
using cg::test::mirror::smb2_chain;
using smb2::command;
using smb2::outcome;

namespace {

using bytes = std::vector<std::uint8_t>;

constexpr std::uint32_t hdr_len = 64;
constexpr std::uint32_t status_access_denied = 0xc000'0022;

void put(bytes& b, std::size_t at, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.at(at + i) = static_cast<std::uint8_t>(v >> (8 * i));
}

bytes file_id(std::uint8_t first) {
    bytes f(16);
    for (std::size_t i = 0; i < f.size(); ++i) f[i] = static_cast<std::uint8_t>(first + i);
    return f;
}
const bytes fid_a = file_id(0x10);
const bytes fid_b = file_id(0x40);
const bytes fid_related(16, 0xff);

bytes utf16(const std::string& s) {
    bytes b;
    for (char c : s) b.insert(b.end(), {static_cast<std::uint8_t>(c), 0});
    return b;
}

bytes filler(std::size_t n, std::uint8_t first = 0xa0) {
    bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(first + i);
    return b;
}

/// An SMB2 header's fields; `response` sets SERVER_TO_REDIR.
struct header {
    command cmd = command::negotiate;
    bool response = false;
    std::uint64_t mid = 0;
    std::uint32_t flags = 0;
    std::uint32_t status = 0;
    std::uint16_t credits = 1;
    std::uint64_t session = 0x0000'4000'0000'0009;
    std::uint32_t tree = 0;
    std::uint64_t async_id = 0;
};

/// A body: its fixed part (StructureSize & ~1 bytes, StructureSize first),
/// then what dyn() appends. Offsets of buffers are from the header.
struct body {
    bytes b;
    explicit body(std::uint16_t size) : b(size & ~1u) { put(b, 0, size, 2); }
    body& at(std::size_t off, std::uint64_t v, int n) {
        put(b, off, v, n);
        return *this;
    }
    body& raw(std::size_t off, const bytes& v) {
        std::copy(v.begin(), v.end(), b.begin() + static_cast<std::ptrdiff_t>(off));
        return *this;
    }
    /// Where the next dyn() goes, from the header, after padding to `align`.
    std::uint32_t next_off(std::uint32_t align = 1) {
        while ((hdr_len + b.size()) % align) b.push_back(0);
        return static_cast<std::uint32_t>(hdr_len + b.size());
    }
    body& dyn(const bytes& v) {
        b.insert(b.end(), v.begin(), v.end());
        return *this;
    }
};

bytes message(const header& h, const body& bd) {
    bytes m(hdr_len);
    m[0] = 0xfe, m[1] = 'S', m[2] = 'M', m[3] = 'B';
    put(m, 4, hdr_len, 2);
    put(m, 6, 1, 2);  // CreditCharge
    put(m, 8, h.status, 4);
    put(m, 12, static_cast<std::uint16_t>(h.cmd), 2);
    put(m, 14, h.credits, 2);
    put(m, 16, h.flags | (h.response ? smb2::flag_server_to_redir : 0), 4);
    put(m, 24, h.mid, 8);
    if (h.flags & smb2::flag_async_command)
        put(m, 32, h.async_id, 8);
    else
        put(m, 36, h.tree, 4);
    put(m, 40, h.session, 8);
    m.insert(m.end(), bd.b.begin(), bd.b.end());
    return m;
}

// ---- the messages -------------------------------------------------------

bytes negotiate_request() {
    body bd(36);
    const std::uint16_t dialects[] = {0x0202, 0x0210, 0x0300, 0x0302, 0x0311};
    bd.at(2, 5, 2).at(4, 1, 2).at(8, 0x7f, 4).raw(12, file_id(0x80)).at(32, 2, 2);
    for (std::uint16_t d : dialects) bd.dyn({static_cast<std::uint8_t>(d), static_cast<std::uint8_t>(d >> 8)});
    bd.at(28, bd.next_off(8), 4);
    bytes preauth{1, 0, 38, 0, 0, 0, 0, 0, 1, 0, 32, 0, 1, 0};  // SHA-512, 32 bytes of salt
    const bytes salt = filler(32);
    preauth.insert(preauth.end(), salt.begin(), salt.end());
    bd.dyn(preauth);
    bd.next_off(8);
    bd.dyn({2, 0, 6, 0, 0, 0, 0, 0, 2, 0, 2, 0, 1, 0});  // AES-128-GCM, AES-128-CCM
    return message({command::negotiate}, bd);
}

bytes negotiate_response() {
    body bd(65);
    bd.at(2, 1, 2).at(4, 0x0311, 2).at(6, 1, 2).raw(8, file_id(0x90)).at(28, 8 << 20, 4).at(32, 8 << 20, 4)
        .at(36, 8 << 20, 4);
    const bytes blob = filler(42, 0x60);
    bd.at(56, bd.next_off(), 2).at(58, blob.size(), 2).dyn(blob);
    bd.at(60, bd.next_off(8), 4);
    bytes preauth{1, 0, 38, 0, 0, 0, 0, 0, 1, 0, 32, 0, 1, 0};
    const bytes salt = filler(32, 0x20);
    preauth.insert(preauth.end(), salt.begin(), salt.end());
    bd.dyn(preauth);
    return message({command::negotiate, true}, bd);
}

bytes session_setup_request(std::uint64_t mid, std::uint64_t session) {
    body bd(25);
    const bytes blob = filler(74, 0x4e);
    bd.at(2, 0, 1).at(3, 1, 1).at(12, bd.next_off(), 2).at(14, blob.size(), 2).dyn(blob);
    return message({command::session_setup, false, mid, 0, 0, 33, session}, bd);
}

bytes session_setup_response(std::uint64_t mid, std::uint32_t status, std::uint64_t session) {
    body bd(9);
    const bytes blob = filler(180, 0xa1);
    bd.at(4, bd.next_off(), 2).at(6, blob.size(), 2).dyn(blob);
    return message({command::session_setup, true, mid, 0, status, 32, session}, bd);
}

bytes tree_connect_request(std::uint64_t mid) {
    body bd(9);
    const bytes path = utf16("\\\\198.18.0.11\\share");
    bd.at(4, bd.next_off(), 2).at(6, path.size(), 2).dyn(path);
    return message({command::tree_connect, false, mid}, bd);
}

bytes tree_connect_response(std::uint64_t mid, std::uint32_t tree) {
    body bd(16);
    bd.at(2, 1, 1).at(12, 0x001f01ff, 4);  // disk share, full access
    return message({command::tree_connect, true, mid, 0, 0, 1, 0x0000'4000'0000'0009, tree}, bd);
}

/// CREATE of `name` with one create context (a 32-byte blob).
bytes create_request(const header& h, const std::string& name) {
    body bd(57);
    const bytes n = utf16(name);
    bd.at(4, 2, 4).at(24, 0x0012019f, 4).at(36, 7, 4).at(40, 1, 4);  // access, share all, open
    bd.at(44, bd.next_off(), 2).at(46, n.size(), 2).dyn(n);
    const bytes ctx = filler(32, 0x30);
    bd.at(48, bd.next_off(8), 4).at(52, ctx.size(), 4).dyn(ctx);
    return message(h, bd);
}

bytes create_response(const header& h, const bytes& fid) {
    body bd(89);
    bd.at(4, 1, 4).at(48, 4096, 8).at(56, 0x20, 4).raw(64, fid);
    const bytes ctx = filler(40, 0x50);
    bd.at(80, bd.next_off(8), 4).at(84, ctx.size(), 4).dyn(ctx);
    return message(h, bd);
}

bytes read_request(const header& h, const bytes& fid, std::uint64_t offset, std::uint32_t length) {
    body bd(49);
    bd.at(2, 0x50, 1).at(4, length, 4).at(8, offset, 8).raw(16, fid).at(32, 1, 4).dyn({0});
    return message(h, bd);
}

bytes read_response(const header& h, const bytes& data) {
    body bd(17);
    bd.at(2, bd.next_off(), 1).at(4, data.size(), 4).dyn(data);
    return message(h, bd);
}

bytes write_request(const header& h, const bytes& fid, std::uint64_t offset, const bytes& data) {
    body bd(49);
    bd.at(2, bd.next_off(), 2).at(4, data.size(), 4).at(8, offset, 8).raw(16, fid).dyn(data);
    return message(h, bd);
}

bytes write_response(const header& h, std::uint32_t count) {
    body bd(17);  // 16 bytes: "the actual size of the response structure notwithstanding"
    bd.at(4, count, 4);
    return message(h, bd);
}

bytes close_request(const header& h, const bytes& fid) {
    body bd(24);
    bd.at(2, 1, 2).raw(8, fid);
    return message(h, bd);
}

bytes close_response(const header& h) {
    body bd(60);
    bd.at(2, 1, 2).at(48, 4096, 8);
    return message(h, bd);
}

/// An ERROR Response (2.2.2) with no error data: ByteCount 0 and the one byte
/// the spec asks for.
bytes error_response(const header& h) {
    body bd(9);
    bd.dyn({0});
    return message(h, bd);
}

/// SMB1 NEGOTIATE as a Windows client sends it first, offering SMB2.
bytes smb1_negotiate(std::uint8_t command = 0x72, std::uint8_t flags = 0x18) {
    bytes m(32);
    m[0] = 0xff, m[1] = 'S', m[2] = 'M', m[3] = 'B', m[4] = command, m[9] = flags;
    put(m, 10, 0xc853, 2);  // Flags2
    put(m, 26, 0xfeff, 2);  // PIDLow
    bytes dialects;
    for (const char* d : {"NT LM 0.12", "SMB 2.002", "SMB 2.???"}) {
        dialects.push_back(0x02);
        dialects.insert(dialects.end(), d, d + std::char_traits<char>::length(d) + 1);
    }
    m.push_back(0);  // WordCount
    m.push_back(static_cast<std::uint8_t>(dialects.size()));
    m.push_back(static_cast<std::uint8_t>(dialects.size() >> 8));
    m.insert(m.end(), dialects.begin(), dialects.end());
    return m;
}

// ---- running the parser -------------------------------------------------

struct parsed {
    smb2::result r;
    std::vector<app_message> m;  ///< the r.count written
};

/// Parses the first `held` bytes of `b` as a payload `record_len` long
/// (both default to b's size) into a span of `span` messages.
parsed run(const bytes& b, direction d, std::size_t span = 8, std::size_t held = SIZE_MAX,
           std::uint32_t record_len = 0) {
    std::vector<app_message> out(span);
    held = std::min(held, b.size());
    if (record_len == 0) record_len = static_cast<std::uint32_t>(b.size());
    parsed p{smb2::parse({b.data(), held}, record_len, d, out), {}};
    REQUIRE(p.r.count <= span);
    out.resize(p.r.count);
    p.m = std::move(out);
    return p;
}

/// Parses `b` as one whole payload that must give exactly one message.
app_message one(const bytes& b, direction d) {
    const parsed p = run(b, d);
    INFO(smb2::outcome_name(p.r.what));
    REQUIRE(p.r.what == outcome::ok);
    REQUIRE(p.r.count == 1);
    const app_message& m = p.m[0];
    CHECK(m.proto == app_proto::smb2);
    CHECK(m.kind == (d == direction::to_server ? msg_kind::call : msg_kind::reply));
    CHECK(m.at == 0);
    CHECK(m.len == b.size());
    return m;
}

bytes fh_of(const app_message& m) { return {m.fh.bytes().begin(), m.fh.bytes().end()}; }

constexpr auto req = direction::to_server;
constexpr auto rsp = direction::to_client;

}  // namespace

TEST_CASE("smb2: the session's first exchanges give their header fields", "[mirror][smb2]") {
    SECTION("NEGOTIATE request and 3.1.1 response, with contexts") {
        const app_message q = one(negotiate_request(), req);
        CHECK(q.procedure == 0);
        CHECK(q.id == 0);
        CHECK(q.status == 0);
        CHECK(q.credits == 1);
        CHECK(q.fh.empty());
        const app_message r = one(negotiate_response(), rsp);
        CHECK(r.procedure == 0);
        CHECK(r.id == 0);
        CHECK(r.flags == smb2::flag_server_to_redir);
    }
    SECTION("SESSION_SETUP: more processing required, then the session") {
        const app_message q = one(session_setup_request(1, 0), req);
        CHECK(q.procedure == 1);
        CHECK(q.id == 1);
        CHECK(q.credits == 33);
        CHECK(q.session_id == 0);
        const app_message r = one(session_setup_response(1, smb2::status_more_processing_required, 0x4000'0000'0009), rsp);
        CHECK(r.status == smb2::status_more_processing_required);
        CHECK(r.session_id == 0x4000'0000'0009);
        CHECK(r.credits == 32);
        CHECK(one(session_setup_response(2, 0, 0x4000'0000'0009), rsp).status == 0);
    }
    SECTION("TREE_CONNECT: the response names the tree") {
        const app_message q = one(tree_connect_request(3), req);
        CHECK(q.procedure == 3);
        CHECK(q.id == 3);
        const app_message r = one(tree_connect_response(3, 0x0000'0007), rsp);
        CHECK(r.tree_id == 7);
        CHECK(r.async_id == 0);
        CHECK(r.session_id == 0x4000'0000'0009);
    }
}

TEST_CASE("smb2: CREATE, READ, WRITE and CLOSE give FileId, offset and count", "[mirror][smb2]") {
    const header h{command::create, false, 4, 0, 0, 1, 0x4000'0000'0009, 7};
    SECTION("CREATE: the request has no FileId, the response brings it") {
        const app_message q = one(create_request(h, "dir\\file.txt"), req);
        CHECK(q.procedure == 5);
        CHECK(q.tree_id == 7);
        CHECK(q.fh.empty());
        header hr = h;
        hr.response = true;
        const app_message r = one(create_response(hr, fid_a), rsp);
        CHECK(r.id == 4);
        CHECK(fh_of(r) == fid_a);
    }
    SECTION("READ") {
        const app_message q = one(read_request({command::read, false, 5}, fid_a, 0x1'0000'0000, 65536), req);
        CHECK(q.procedure == 8);
        CHECK(fh_of(q) == fid_a);
        CHECK(q.offset == 0x1'0000'0000);
        CHECK(q.count == 65536);
        const app_message r = one(read_response({command::read, true, 5}, filler(300)), rsp);
        CHECK(r.count == 300);
        CHECK(r.offset == 0);
        CHECK(r.fh.empty());
    }
    SECTION("WRITE") {
        const app_message q = one(write_request({command::write, false, 6}, fid_b, 8192, filler(500)), req);
        CHECK(q.procedure == 9);
        CHECK(fh_of(q) == fid_b);
        CHECK(q.offset == 8192);
        CHECK(q.count == 500);
        const app_message r = one(write_response({command::write, true, 6}, 500), rsp);
        CHECK(r.count == 500);
    }
    SECTION("CLOSE") {
        const app_message q = one(close_request({command::close, false, 7}, fid_b), req);
        CHECK(q.procedure == 6);
        CHECK(fh_of(q) == fid_b);
        CHECK(one(close_response({command::close, true, 7}), rsp).fh.empty());
    }
    SECTION("an error response has the status and no body fields") {
        const app_message r = one(error_response({command::read, true, 8, 0, status_access_denied}), rsp);
        CHECK(r.procedure == 8);
        CHECK(r.status == status_access_denied);
        CHECK(r.count == 0);
        CHECK_FALSE(smb2::is_interim(r));
    }
}

TEST_CASE("smb2: every request body that carries a FileId gives it", "[mirror][smb2]") {
    struct row {
        command cmd;
        std::uint16_t size;
        std::size_t fid_at;  ///< in the body
    };
    const row rows[] = {
        {command::close, 24, 8},          {command::flush, 24, 8},         {command::read, 49, 16},
        {command::write, 49, 16},         {command::lock, 48, 8},          {command::ioctl, 57, 8},
        {command::query_directory, 33, 8}, {command::change_notify, 32, 8}, {command::query_info, 41, 24},
        {command::set_info, 33, 16},      {command::oplock_break, 24, 8},
    };
    for (const row& r : rows) {
        INFO("command " << static_cast<int>(r.cmd));
        body bd(r.size);
        bd.raw(r.fid_at, fid_a);
        if (r.size & 1) bd.dyn({0});
        if (r.cmd == command::lock) bd.at(2, 1, 2);
        CHECK(fh_of(one(message({r.cmd, false, 9}, bd), req)) == fid_a);
    }
    SECTION("and the responses that carry one: IOCTL, oplock break") {
        body io(49);
        io.raw(8, fid_b);
        CHECK(fh_of(one(message({command::ioctl, true, 9}, io), rsp)) == fid_b);
        body ob(24);
        ob.raw(8, fid_b);
        CHECK(fh_of(one(message({command::oplock_break, true, smb2::unsolicited_message_id}, ob), rsp)) == fid_b);
        body lease(44);  // a lease break names a lease, not a file
        CHECK(one(message({command::oplock_break, true, smb2::unsolicited_message_id}, lease), rsp).fh.empty());
    }
}

TEST_CASE("smb2: a related compound resolves its FileIds in the chain", "[mirror][smb2]") {
    const std::uint32_t rel = smb2::flag_related_operations;
    SECTION("CREATE + READ + CLOSE requests: the CREATE's FileId is still to come") {
        const bytes c = smb2_chain({create_request({command::create, false, 10, 0, 0, 1, 9, 7}, "a.txt"),
                               read_request({command::read, false, 11, rel}, fid_related, 0, 4096),
                               close_request({command::close, false, 12, rel}, fid_related)});
        const parsed p = run(c, req);
        REQUIRE(p.r.what == outcome::ok);
        REQUIRE(p.r.count == 3);
        CHECK(p.m[0].fh.empty());
        CHECK(fh_of(p.m[1]) == fid_related);
        CHECK(fh_of(p.m[2]) == fid_related);
        CHECK(p.m[1].count == 4096);
        for (std::size_t i = 0; i < 3; ++i) {
            CHECK(p.m[i].id == 10 + i);
            CHECK(p.m[i].at % 8 == 0);
            CHECK(p.m[i].tree_id == 7 * (i == 0));  // the builder gives only the first a TreeId
        }
        CHECK(p.m[1].at == p.m[0].at + p.m[0].len);
        CHECK(p.m[2].at == p.m[1].at + p.m[1].len);
        CHECK(p.m[2].at + p.m[2].len == c.size());
    }
    SECTION("their responses: the CREATE's carries it") {
        const bytes c = smb2_chain({create_response({command::create, true, 10, rel}, fid_a),
                               read_response({command::read, true, 11, rel}, filler(100)),
                               close_response({command::close, true, 12, rel})});
        const parsed p = run(c, rsp);
        REQUIRE(p.r.what == outcome::ok);
        REQUIRE(p.r.count == 3);
        CHECK(fh_of(p.m[0]) == fid_a);
        CHECK(p.m[1].count == 100);
        CHECK(p.m[2].procedure == 6);
    }
    SECTION("READ of a known FileId, then related WRITE and CLOSE: theirs is the READ's") {
        const bytes c = smb2_chain({read_request({command::read, false, 20}, fid_b, 0, 10),
                               write_request({command::write, false, 21, rel}, fid_related, 10, filler(10)),
                               close_request({command::close, false, 22, rel}, fid_related)});
        const parsed p = run(c, req);
        REQUIRE(p.r.what == outcome::ok);
        REQUIRE(p.r.count == 3);
        CHECK(fh_of(p.m[1]) == fid_b);
        CHECK(fh_of(p.m[2]) == fid_b);
    }
    SECTION("an unrelated all-0xFF FileId stays as it is") {
        const bytes c = smb2_chain({read_request({command::read, false, 20}, fid_b, 0, 10),
                               close_request({command::close, false, 21}, fid_related)});
        const parsed p = run(c, req);
        REQUIRE(p.r.count == 2);
        CHECK(fh_of(p.m[1]) == fid_related);
    }
}

TEST_CASE("smb2: an async STATUS_PENDING interim response, then the answer", "[mirror][smb2]") {
    const std::uint32_t async = smb2::flag_async_command;
    const app_message interim =
        one(error_response({command::read, true, 30, async, smb2::status_pending, 0, 9, 0, 0x51}), rsp);
    CHECK(smb2::is_interim(interim));
    CHECK(interim.id == 30);
    CHECK(interim.async_id == 0x51);
    CHECK(interim.tree_id == 0);
    CHECK(interim.flags == (async | smb2::flag_server_to_redir));

    const app_message final_ = one(read_response({command::read, true, 30, async, 0, 1, 9, 0, 0x51}, filler(64)), rsp);
    CHECK_FALSE(smb2::is_interim(final_));
    CHECK(final_.id == 30);
    CHECK(final_.async_id == 0x51);
    CHECK(final_.count == 64);

    // A CANCEL of it names the AsyncId.
    const app_message cancel = one(message({command::cancel, false, 30, async, 0, 0, 9, 0, 0x51}, body(4)), req);
    CHECK(cancel.procedure == 12);
    CHECK(cancel.async_id == 0x51);
    CHECK(cancel.tree_id == 0);
}

TEST_CASE("smb2: encrypted and compressed payloads are opaque", "[mirror][smb2]") {
    bytes transform(52 + 80, 0x5a);  // TRANSFORM_HEADER, then ciphertext
    transform[0] = 0xfd, transform[1] = 'S', transform[2] = 'M', transform[3] = 'B';
    for (direction d : {req, rsp}) {
        const parsed p = run(transform, d);
        CHECK(p.r.what == outcome::opaque_encrypted);
        CHECK(p.r.count == 0);
        CHECK(smb2::is_opaque(p.r.what));
    }
    bytes compressed = transform;
    compressed[0] = 0xfc;
    CHECK(run(compressed, req).r.what == outcome::opaque_compressed);
    CHECK(smb2::is_opaque(outcome::opaque_compressed));
    CHECK_FALSE(smb2::is_opaque(outcome::ok));
}

TEST_CASE("smb2: an SMB1 NEGOTIATE stands for the SMB2 NEGOTIATE with MessageId 0", "[mirror][smb2]") {
    const bytes n = smb1_negotiate();
    const parsed p = run(n, req);
    CHECK(p.r.what == outcome::smb1_negotiate);
    REQUIRE(p.r.count == 1);
    CHECK(p.m[0].proto == app_proto::smb2);
    CHECK(p.m[0].kind == msg_kind::call);
    CHECK(p.m[0].procedure == 0);
    CHECK(p.m[0].id == 0);
    CHECK(p.m[0].len == n.size());
    CHECK(run(n, rsp).r.what == outcome::unsupported_smb1);                // the server answering in SMB1
    CHECK(run(smb1_negotiate(0x73), req).r.what == outcome::unsupported_smb1);  // SESSION_SETUP_ANDX
    CHECK(run(smb1_negotiate(0x72, 0x98), req).r.what == outcome::wrong_direction);
    CHECK(run(n, req, 0).r.what == outcome::too_many_messages);
}

TEST_CASE("smb2: a payload that is only a prefix still gives what it holds", "[mirror][smb2]") {
    SECTION("a 1 MiB WRITE request of which 200 bytes are held") {
        const bytes w = write_request({command::write, false, 40}, fid_a, 1 << 20, bytes(1 << 20, 0x77));
        const parsed p = run(w, req, 8, 200);
        REQUIRE(p.r.what == outcome::ok);
        REQUIRE(p.r.count == 1);
        CHECK(fh_of(p.m[0]) == fid_a);
        CHECK(p.m[0].count == 1u << 20);
        CHECK(p.m[0].offset == 1u << 20);
        CHECK(p.m[0].len == w.size());
    }
    SECTION("a 1 MiB READ response held up to its header and fixed body") {
        const bytes r = read_response({command::read, true, 41}, bytes(1 << 20, 0x66));
        const parsed p = run(r, rsp, 8, hdr_len + 16);
        REQUIRE(p.r.what == outcome::ok);
        CHECK(p.m[0].count == 1u << 20);
        CHECK(run(r, rsp, 8, hdr_len + 15).r.what == outcome::truncated);
    }
    SECTION("a compound held up to its second message") {
        const bytes c = smb2_chain({read_request({command::read, false, 42}, fid_b, 0, 10),
                               write_request({command::write, false, 43}, fid_b, 0, bytes(4000))});
        const parsed p = run(c, req, 8, 130);
        CHECK(p.r.what == outcome::truncated);
        CHECK(p.r.count == 1);
        CHECK(run(c, req, 8, 120 + hdr_len + 48).r.what == outcome::ok);
    }
    SECTION("a record length below what is held is taken as what is held") {
        const bytes w = write_request({command::write, false, 44}, fid_a, 0, filler(10));
        const parsed p = run(w, req, 8, SIZE_MAX, 5);
        REQUIRE(p.r.what == outcome::ok);
        CHECK(p.m[0].len == w.size());
    }
}

TEST_CASE("smb2: every truncation of a valid payload is refused, whole or held as a prefix", "[mirror][smb2]") {
    const std::uint32_t rel = smb2::flag_related_operations;
    struct row {
        const char* what;
        bytes b;
        direction d;
    };
    const row rows[] = {
        {"negotiate request", negotiate_request(), req},
        {"negotiate response", negotiate_response(), rsp},
        {"session setup request", session_setup_request(1, 0), req},
        {"session setup response", session_setup_response(1, 0, 9), rsp},
        {"tree connect request", tree_connect_request(3), req},
        {"tree connect response", tree_connect_response(3, 7), rsp},
        {"create request", create_request({command::create, false, 4}, "f"), req},
        {"create response", create_response({command::create, true, 4}, fid_a), rsp},
        {"read request", read_request({command::read, false, 5}, fid_a, 0, 10), req},
        {"read response", read_response({command::read, true, 5}, filler(10)), rsp},
        {"write request", write_request({command::write, false, 6}, fid_a, 0, filler(10)), req},
        {"write response", write_response({command::write, true, 6}, 10), rsp},
        {"close request", close_request({command::close, false, 7}, fid_a), req},
        {"close response", close_response({command::close, true, 7}), rsp},
        {"compound", smb2_chain({create_request({command::create, false, 10}, "a"),
                            read_request({command::read, false, 11, rel}, fid_related, 0, 1),
                            close_request({command::close, false, 12, rel}, fid_related)}), req},
        {"smb1 negotiate", smb1_negotiate(), req},
    };
    for (const row& r : rows) {
        INFO(r.what);
        const parsed whole = run(r.b, r.d);
        REQUIRE((whole.r.what == outcome::ok || whole.r.what == outcome::smb1_negotiate));
        for (std::size_t n = 0; n < r.b.size(); ++n) {
            INFO("cut to " << n << " of " << r.b.size() << " bytes");
            const bytes cut(r.b.begin(), r.b.begin() + static_cast<std::ptrdiff_t>(n));
            const parsed p = run(cut, r.d);
            CHECK(p.r.what != outcome::ok);
            CHECK(p.r.what != outcome::smb1_negotiate);
            CHECK(p.r.count < whole.r.count);
            // Held only up to n of the whole: what it gives agrees with the whole.
            const parsed pre = run(r.b, r.d, 8, n);
            CHECK(pre.r.count <= whole.r.count);
            for (std::size_t i = 0; i < pre.r.count; ++i) {
                CHECK(pre.m[i].at == whole.m[i].at);
                CHECK(pre.m[i].len == whole.m[i].len);
                CHECK(pre.m[i].id == whole.m[i].id);
                CHECK(fh_of(pre.m[i]) == fh_of(whole.m[i]));
                CHECK(pre.m[i].count == whole.m[i].count);
            }
        }
    }
    SECTION("but for the ERROR Response's one byte of ErrorData, which some servers omit") {
        const bytes e = error_response({command::read, true, 8, 0, status_access_denied});
        CHECK(run(bytes(e.begin(), e.end() - 1), rsp).r.what == outcome::ok);
        CHECK(run(bytes(e.begin(), e.end() - 2), rsp).r.what == outcome::truncated);
    }
}

TEST_CASE("smb2: malformed payloads get their outcome", "[mirror][smb2]") {
    const bytes rd = read_request({command::read, false, 5}, fid_a, 0, 10);
    const bytes cl = close_request({command::close, false, 6}, fid_a);
    const auto with = [](bytes b, std::size_t at, std::uint64_t v, int n) {
        put(b, at, v, n);
        return b;
    };
    const bytes two = smb2_chain({rd, cl});  // the READ padded to 120 bytes
    struct row {
        const char* what;
        bytes b;
        direction d;
        outcome expected;
        std::uint32_t count;
    };
    const row rows[] = {
        {"empty", {}, req, outcome::truncated, 0},
        {"three bytes", {0xfe, 'S', 'M'}, req, outcome::truncated, 0},
        {"HTTP", {'G', 'E', 'T', ' ', '/', ' '}, req, outcome::bad_protocol_id, 0},
        {"header cut", bytes(rd.begin(), rd.begin() + 63), req, outcome::truncated, 0},
        {"header size 65", with(rd, 4, 65, 2), req, outcome::bad_header_size, 0},
        {"command 0x14", with(rd, 12, 0x14, 2), req, outcome::unknown_command, 0},
        {"a request from the server", with(rd, 16, smb2::flag_server_to_redir, 4), req, outcome::wrong_direction, 0},
        {"a response from the client", rd, rsp, outcome::wrong_direction, 0},
        {"READ request of size 48", with(rd, hdr_len, 48, 2), req, outcome::bad_structure_size, 0},
        {"READ request of size 17 (a response's)", with(rd, hdr_len, 17, 2), req, outcome::bad_structure_size, 0},
        {"READ request without its byte of buffer", bytes(rd.begin(), rd.end() - 1), req,
         outcome::bad_structure_size, 0},
        {"success with an error body", error_response({command::read, true, 5}), rsp, outcome::bad_structure_size, 0},
        {"READ channel info over the fixed body", with(with(rd, hdr_len + 44, 0x60, 2), hdr_len + 46, 1, 2), req,
         outcome::bad_buffer, 0},
        {"READ channel info past the end", with(with(rd, hdr_len + 44, 112, 2), hdr_len + 46, 2, 2), req,
         outcome::truncated, 0},
        {"WRITE data offset inside the fixed body",
         with(write_request({command::write, false, 6}, fid_a, 0, filler(10)), hdr_len + 2, 0x40, 2), req,
         outcome::bad_buffer, 0},
        {"LOCK of 3 elements holding 1",
         message({command::lock, false, 7}, body(48).at(2, 3, 2)), req, outcome::truncated, 0},
        {"NEGOTIATE of no dialect", with(negotiate_request(), hdr_len + 2, 0, 2), req, outcome::bad_buffer, 0},
        {"NEGOTIATE context past the end", with(negotiate_request(), hdr_len + 32, 3, 2), req, outcome::truncated, 0},
        {"SMB1 of no dialect", with(smb1_negotiate(), 33, 0, 2), req, outcome::bad_buffer, 0},
        {"SMB1 dialect not 0x02", with(smb1_negotiate(), 35, 0x03, 1), req, outcome::bad_buffer, 0},
        {"NextCommand 0x79", with(two, 20, 0x79, 4), req, outcome::chain_misaligned, 0},
        {"NextCommand 8: inside its own header", with(two, 20, 8, 4), req, outcome::chain_loop, 0},
        {"NextCommand 64: no body", with(two, 20, 64, 4), req, outcome::chain_loop, 0},
        {"NextCommand 112: the READ's byte of buffer left out", with(two, 20, 112, 4), req, outcome::chain_loop, 0},
        {"NextCommand at the end", with(two, 20, two.size(), 4), req, outcome::chain_out_of_bounds, 0},
        {"NextCommand wrapping 32 bits back to the start", with(two, 20, 0xffff'fff8, 4), req,
         outcome::chain_out_of_bounds, 0},
        {"second message not SMB2", with(two, 120, 0, 1), req, outcome::bad_protocol_id, 1},
        {"second message cut", bytes(two.begin(), two.end() - 1), req, outcome::truncated, 1},
        // 120 + 0xffffff88 is 2^32: 32-bit arithmetic would be back at 0.
        {"second message loops back to the first", with(with(two, 120 + 20, 0xffff'ff88, 4), 20, 120, 4), req,
         outcome::chain_out_of_bounds, 1},
        {"a buffer past its message, not the last",
         smb2_chain({with(with(rd, hdr_len + 44, 112, 2), hdr_len + 46, 16, 2), cl}), req, outcome::bad_buffer, 0},
    };
    for (const row& r : rows) {
        INFO(r.what);
        const parsed p = run(r.b, r.d);
        CHECK(smb2::outcome_name(p.r.what) == smb2::outcome_name(r.expected));
        CHECK(p.r.count == r.count);
    }
}

TEST_CASE("smb2: a chain longer than the span gives the messages that fit", "[mirror][smb2]") {
    const bytes c = smb2_chain({close_request({command::close, false, 1}, fid_a), close_request({command::close, false, 2}, fid_a),
                           close_request({command::close, false, 3}, fid_a)});
    const parsed p = run(c, req, 2);
    CHECK(p.r.what == outcome::too_many_messages);
    REQUIRE(p.r.count == 2);
    CHECK(p.m[1].id == 2);
    CHECK(run(c, req, 3).r.what == outcome::ok);
    CHECK(run(c, req, 0).r.count == 0);
}

TEST_CASE("smb2: every outcome has its own name", "[mirror][smb2]") {
    std::set<std::string_view> seen;
    for (std::size_t i = 0; i < smb2::outcome_count; ++i) {
        const std::string_view n = smb2::outcome_name(static_cast<outcome>(i));
        CHECK_FALSE(n.empty());
        CHECK(n != "?");
        seen.insert(n);
    }
    CHECK(seen.size() == smb2::outcome_count);
    CHECK(smb2::outcome_name(outcome::count_) == "?");
    CHECK(smb2::outcome_name(outcome::chain_loop) == "chain_loop");
}
