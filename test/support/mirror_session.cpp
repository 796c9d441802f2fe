#include "mirror_session.hpp"

#include <algorithm>
#include <array>

#include "dataplane/mirror/nfs.hpp"
#include "dataplane/mirror/xdr.hpp"
#include "dataplane/pkt/wire.hpp"

namespace cg::test::mirror {

using dp::mirror::xdr_writer;
namespace wire = dp::wire;

namespace {

constexpr std::size_t at(direction d) { return d == direction::to_server ? 0 : 1; }

/// Little-endian, as SMB2 lays out its fields.
bytes le(std::uint64_t v, int n) {
    bytes b(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) b[static_cast<std::size_t>(i)] = i < 8 ? static_cast<std::uint8_t>(v >> (8 * i)) : 0;
    return b;
}

}  // namespace

bytes concat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

// ---- TCP ----------------------------------------------------------------------

bytes syn_options(std::uint32_t tsval) {
    bytes o = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7};
    wire::store32(&o[8], tsval);
    return o;
}

std::vector<seg> conversation(const std::vector<turn>& turns, std::size_t cut, ending end) {
    std::vector<seg> out;
    std::array<std::uint32_t, 2> sent{};  // bytes each side has sent
    out.push_back({direction::to_server, -1, SYN, 0, {}, syn_options(100)});
    out.push_back({direction::to_client, -1, SYN | ACK, 0, {}, syn_options(500)});
    out.push_back({direction::to_server, 0, ACK, 0, {}, {}});
    for (const turn& t : turns) {
        const direction peer = t.dir == direction::to_server ? direction::to_client : direction::to_server;
        const std::size_t piece = cut == 0 ? std::max<std::size_t>(t.data.size(), 1) : cut;
        for (std::size_t i = 0; i < t.data.size(); i += piece) {
            seg s{t.dir, sent[at(t.dir)], ACK | PSH, sent[at(peer)], {}, {}};
            const std::size_t n = std::min(piece, t.data.size() - i);
            s.payload.assign(t.data.begin() + static_cast<std::ptrdiff_t>(i),
                             t.data.begin() + static_cast<std::ptrdiff_t>(i + n));
            sent[at(t.dir)] += static_cast<std::uint32_t>(n);
            out.push_back(std::move(s));
        }
    }
    const auto c = direction::to_server, s = direction::to_client;
    switch (end) {
    case ending::fin:
        out.push_back({c, sent[0], FIN | ACK, sent[1], {}, {}});
        out.push_back({s, sent[1], FIN | ACK, sent[0] + 1, {}, {}});
        out.push_back({c, sent[0] + 1, ACK, sent[1] + 1, {}, {}});
        break;
    case ending::rst: out.push_back({c, sent[0], RST | ACK, sent[1], {}, {}}); break;
    case ending::none: break;
    }
    return out;
}

dp::mirror::tcp_segment to_segment(const conn_spec& c, const seg& s) {
    const bool client = s.dir == direction::to_server;
    const std::uint32_t isn = client ? c.client_isn : c.server_isn;
    const std::uint32_t peer_isn = client ? c.server_isn : c.client_isn;
    dp::mirror::tcp_segment t;
    t.dir = s.dir;
    t.seq = isn + 1 + static_cast<std::uint32_t>(s.off);
    t.ack = (s.flags & ACK) ? peer_isn + 1 + s.ack : 0;
    t.flags = s.flags;
    t.window = 502;
    t.options = s.options;
    t.payload = s.payload;
    return t;
}

bytes to_frame(const conn_spec& c, const seg& s) {
    const dp::mirror::tcp_segment t = to_segment(c, s);
    const bool client = s.dir == direction::to_server;
    const common::ipv4_addr src = client ? c.client : c.server, dst = client ? c.server : c.client;
    const std::uint16_t sport = client ? c.client_port : c.server_port, dport = client ? c.server_port : c.client_port;
    const std::size_t tcp_len = 20 + s.options.size() + s.payload.size();
    const std::size_t ip_len = 20 + tcp_len;
    bytes f(14 + ip_len, 0);
    // Ethernet: node's and client's MACs, IPv4.
    const std::uint8_t to = client ? 0x0b : 0x0a, from = client ? 0x0a : 0x0b;
    const std::uint8_t macs[12] = {0x02, 0, 0, 0, 0, to, 0x02, 0, 0, 0, 0, from};
    std::copy(std::begin(macs), std::end(macs), f.begin());
    wire::store16(&f[12], wire::ethertype_ipv4);
    std::uint8_t* ip = &f[14];
    ip[0] = 0x45;
    wire::store16(ip + 2, static_cast<std::uint16_t>(ip_len));
    wire::store16(ip + 6, 0x4000);  // DF
    ip[8] = 64;
    ip[9] = 6;
    wire::store32(ip + 12, src);
    wire::store32(ip + 16, dst);
    wire::store16(ip + 10, wire::inet_checksum(ip, 20));
    std::uint8_t* tcp = ip + 20;
    wire::store16(tcp, sport);
    wire::store16(tcp + 2, dport);
    wire::store32(tcp + 4, t.seq);
    wire::store32(tcp + 8, t.ack);
    tcp[12] = static_cast<std::uint8_t>(((20 + s.options.size()) / 4) << 4);
    tcp[13] = s.flags;
    wire::store16(tcp + 14, t.window);
    std::copy(s.options.begin(), s.options.end(), tcp + 20);
    std::copy(s.payload.begin(), s.payload.end(), tcp + 20 + s.options.size());
    // The checksum over the pseudo-header and the segment.
    bytes pseudo(12 + tcp_len);
    wire::store32(&pseudo[0], src);
    wire::store32(&pseudo[4], dst);
    pseudo[9] = 6;
    wire::store16(&pseudo[10], static_cast<std::uint16_t>(tcp_len));
    std::copy(tcp, tcp + tcp_len, pseudo.begin() + 12);
    wire::store16(tcp + 16, wire::inet_checksum(pseudo.data(), pseudo.size()));
    return f;
}

// ---- ONC RPC ----------------------------------------------------------------------

bytes rpc_marked(const bytes& record) {
    bytes out(4);
    wire::store32(out.data(), 0x80000000u | static_cast<std::uint32_t>(record.size()));
    out.insert(out.end(), record.begin(), record.end());
    return out;
}

bytes rpc_call(std::uint32_t xid, std::uint32_t prog, std::uint32_t vers, std::uint32_t proc, const bytes& args) {
    xdr_writer cred;  // AUTH_SYS: stamp, machine name, uid, gid, one more gid
    cred.u32(7).string("client").u32(0).u32(0).u32(1).u32(0);
    xdr_writer w;
    w.u32(xid).u32(0).u32(2).u32(prog).u32(vers).u32(proc).u32(1).opaque(cred.data()).u32(0).u32(0).bytes(args);
    return w.take();
}

bytes rpc_reply(std::uint32_t xid, const bytes& results) {
    xdr_writer w;
    w.u32(xid).u32(1).u32(0).u32(0).u32(0).u32(0).bytes(results);
    return w.take();
}

bytes nfs3_fh_args(const bytes& fh) { return xdr_writer().opaque(fh).take(); }

bytes nfs3_read_args(const bytes& fh, std::uint64_t offset, std::uint32_t count) {
    return xdr_writer().opaque(fh).u64(offset).u32(count).take();
}

bytes nfs3_write_args(const bytes& fh, std::uint64_t offset, const bytes& data, std::uint32_t stable) {
    return xdr_writer().opaque(fh).u64(offset).u32(static_cast<std::uint32_t>(data.size())).u32(stable).opaque(data).take();
}

bytes nfs3_getattr_res() { return xdr_writer().u32(0).fixed(bytes(84, 0)).take(); }

bytes nfs3_read_res(const bytes& data) {
    return xdr_writer().u32(0).boolean(false).u32(static_cast<std::uint32_t>(data.size())).boolean(true).opaque(data).take();
}

bytes nfs3_write_res(std::uint32_t count, std::uint32_t committed) {
    return xdr_writer().u32(0).boolean(false).boolean(false).u32(count).u32(committed).fixed(bytes(8, 0x5e)).take();
}

// ---- SMB2 -------------------------------------------------------------------------

bytes smb2_message(std::uint16_t command, std::uint32_t flags, std::uint64_t message_id, const bytes& body,
                   std::uint32_t status, std::uint64_t async_id) {
    const bool async = flags & smb2_async;
    // ProtocolId, StructureSize, CreditCharge, Status, Command, Credits,
    // Flags, NextCommand, MessageId, then AsyncId or (Reserved, TreeId),
    // SessionId, Signature.
    return concat({{0xfe, 'S', 'M', 'B'}, le(64, 2), le(1, 2), le(status, 4), le(command, 2), le(1, 2), le(flags, 4),
                   le(0, 4), le(message_id, 8), async ? le(async_id, 8) : concat({le(0, 4), le(7, 4)}), le(0x11, 8),
                   bytes(16, 0), body});
}

bytes smb2_chain(std::vector<bytes> messages) {
    bytes out;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        bytes& m = messages[i];
        if (i + 1 < messages.size()) {
            m.resize((m.size() + 7) & ~std::size_t{7});
            const bytes next = le(m.size(), 4);
            std::copy(next.begin(), next.end(), m.begin() + 20);
        }
        out.insert(out.end(), m.begin(), m.end());
    }
    return out;
}

bytes nbss(const bytes& payload) {
    bytes out(4);
    wire::store32(out.data(), static_cast<std::uint32_t>(payload.size()) & 0xffffff);
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

bytes smb2_echo_body() { return concat({le(4, 2), le(0, 2)}); }

bytes smb2_create_req_body() {
    // StructureSize 57, SecurityFlags, OplockLevel, ImpersonationLevel,
    // SmbCreateFlags, Reserved, DesiredAccess, FileAttributes, ShareAccess,
    // CreateDisposition, CreateOptions, NameOffset (120), NameLength,
    // CreateContexts (none), then the name "f" in UTF-16.
    return concat({le(57, 2), {0, 0}, le(2, 4), le(0, 16), le(0x12019f, 4), le(0x80, 4), le(7, 4), le(1, 4),
                   le(0x40, 4), le(120, 2), le(2, 2), le(0, 8), {'f', 0}});
}

bytes smb2_create_rsp_body(const bytes& file_id) {
    return concat({le(89, 2), {0, 0}, le(1, 4), le(0, 48), le(0x20, 4), le(0, 4), file_id, le(0, 8)});
}

bytes smb2_read_req_body(const bytes& file_id, std::uint64_t offset, std::uint32_t length) {
    return concat({le(49, 2), {0x50, 0}, le(length, 4), le(offset, 8), file_id, le(1, 4), le(0, 12), {0}});
}

bytes smb2_read_rsp_body(const bytes& data) {
    return concat({le(17, 2), {0x50, 0}, le(data.size(), 4), le(0, 8), data});
}

bytes smb2_close_req_body(const bytes& file_id) { return concat({le(24, 2), le(0, 2), le(0, 4), file_id}); }

bytes smb2_close_rsp_body() { return concat({le(60, 2), le(0, 2), le(0, 4), bytes(52, 0)}); }

bytes smb2_error_body() { return concat({le(9, 2), {0, 0}, le(0, 4), {0}}); }

}  // namespace cg::test::mirror
