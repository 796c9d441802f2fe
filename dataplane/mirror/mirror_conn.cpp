#include "dataplane/mirror/mirror_conn.hpp"

#include <algorithm>

namespace cg::dp::mirror {

namespace {

constexpr std::uint16_t smb2_create = static_cast<std::uint16_t>(smb2::command::create);
constexpr std::uint16_t smb2_cancel = static_cast<std::uint16_t>(smb2::command::cancel);
constexpr std::size_t smb2_file_id_len = 16;

/// The range [at, at + n) of `s`, cut to what `s` holds.
template <class T>
std::span<T> part(std::span<T> s, std::size_t at, std::size_t n) noexcept {
    if (at >= s.size()) return {};
    return s.subspan(at, std::min(n, s.size() - at));
}

framer_config framer_cfg(const mirror_conn_config& c, port_proto speaks, direction d) noexcept {
    framer_config f;
    f.kind = speaks == port_proto::smb ? framing::nbss : speaks == port_proto::http ? framing::http1 : framing::onc_rpc;
    f.dir = d;
    f.cap = d == direction::to_server ? c.request_cap : c.reply_cap;
    f.prefix = c.prefix;
    f.max_record = c.max_record;
    return f;
}

/// Errors after which the record is still what it says: held by its prefix
/// (its fields lie past it), or RPCSEC_GSS privacy (the header is known).
bool still_taken(rpc_error e) noexcept { return e == rpc_error::prefix_too_short || e == rpc_error::body_encrypted; }

bool all_ones(const handle& h) noexcept {
    return h.len == smb2_file_id_len && std::all_of(h.b.begin(), h.b.begin() + h.len, [](std::uint8_t x) { return x == 0xff; });
}

}  // namespace

// ---- port_map ------------------------------------------------------------------

port_map port_map::defaults() noexcept {
    port_map m;
    m.set(2049, port_proto::nfs);
    m.set(111, port_proto::portmapper);
    m.set(445, port_proto::smb);
    m.set(80, port_proto::http);
    return m;
}

int port_map::find(std::uint16_t port) const noexcept {
    for (std::uint8_t i = 0; i < _n; ++i)
        if (_port[i] == port) return i;
    return -1;
}

bool port_map::set(std::uint16_t port, port_proto p) noexcept {
    const int i = find(port);
    if (p == port_proto::tcp) {
        if (i < 0) return true;
        --_n;
        _port[static_cast<std::size_t>(i)] = _port[_n];
        _proto[static_cast<std::size_t>(i)] = _proto[_n];
        return true;
    }
    if (i >= 0) {
        _proto[static_cast<std::size_t>(i)] = p;
        return true;
    }
    if (_n == max_ports) return false;
    _port[_n] = port;
    _proto[_n] = p;
    ++_n;
    return true;
}

port_proto port_map::of(std::uint16_t port) const noexcept {
    const int i = find(port);
    return i < 0 ? port_proto::tcp : _proto[static_cast<std::size_t>(i)];
}

// ---- mirror_conn -------------------------------------------------------------------

std::size_t mirror_conn::storage_bytes(const mirror_conn_config& cfg) noexcept {
    return tcp_follower::storage_bytes(cfg.follower) + cfg.request_cap + cfg.reply_cap;
}

mirror_conn::mirror_conn(const mirror_conn_config& cfg, std::span<std::uint8_t> storage, chunk_pool& pool) noexcept
    : _cfg(cfg),
      _pool(&pool),
      _tcp_storage(part(storage, 0, tcp_follower::storage_bytes(cfg.follower))),
      _rec_storage{part(storage, _tcp_storage.size(), cfg.request_cap),
                   part(storage, _tcp_storage.size() + cfg.request_cap, cfg.reply_cap)},
      _tcp(*this, cfg.follower, _tcp_storage),
      _framer{record_framer(framer_cfg(cfg, port_proto::tcp, direction::to_server), _rec_storage[0]),
              record_framer(framer_cfg(cfg, port_proto::tcp, direction::to_client), _rec_storage[1])} {
    _sinks[0].conn = _sinks[1].conn = this;
    _sinks[0].dir = direction::to_server;
    _sinks[1].dir = direction::to_client;
}

void mirror_conn::start(const conn_endpoints& ep, port_proto speaks, std::uint64_t serial, conn_observer* observer,
                        chunk_room* room) noexcept {
    _fifo.clear(*_pool);
    _ep = ep;
    _speaks = speaks;
    _serial = serial;
    _obs = observer;
    _room = room;
    _tcp = tcp_follower(*this, _cfg.follower, _tcp_storage);
    for (const direction d : {direction::to_server, direction::to_client})
        _framer[idx(d)] = record_framer(framer_cfg(_cfg, speaks, d), _rec_storage[idx(d)]);
    _c = {};
    _opaque = _parse_error = false;
    _gss = {};
    _gss_next = 0;
    _waits = {};
    _wait_next = 0;
    _http_seq = {};
}

seg_verdict mirror_conn::follow(const tcp_segment& seg) noexcept { return _tcp.follow(seg); }

void mirror_conn::release() noexcept {
    _fifo.clear(*_pool);
    _obs = nullptr;
    _room = nullptr;
}

conn_reason mirror_conn::reason() const noexcept {
    using r = conn_reason;
    switch (_tcp.completeness()) {
    case tcp_completeness::complete: break;
    case tcp_completeness::nothing_seen: return r::nothing_seen;
    case tcp_completeness::joined_mid_stream: return r::joined_mid_stream;
    case tcp_completeness::handshake_unfinished: return r::handshake_unfinished;
    case tcp_completeness::handshake_missed: return r::handshake_missed;
    case tcp_completeness::gap_to_server: return r::gap_to_server;
    case tcp_completeness::gap_to_client: return r::gap_to_client;
    case tcp_completeness::hole_to_server: return r::hole_to_server;
    case tcp_completeness::hole_to_client: return r::hole_to_client;
    }
    if (_opaque) return r::opaque;
    bool no_buffer = false;
    if (_speaks != port_proto::tcp) {
        for (const record_framer& f : _framer) {
            if (f.counters().error(framer_error::record_too_long) || f.counters().error(framer_error::bad_nbss_type) ||
                f.counters().error(framer_error::bad_http))
                return r::framing_lost;
            no_buffer |= f.counters().error(framer_error::no_buffer) > 0;
        }
    }
    if (_parse_error) return r::parse_error;
    switch (_fifo.flaw()) {
    case fifo_flaw::none: break;
    case fifo_flaw::request_too_large: return r::request_too_large;
    case fifo_flaw::no_memory: return r::request_not_held;
    case fifo_flaw::request_dropped: return r::request_dropped;
    }
    return no_buffer ? r::request_not_held : r::complete;
}

// ---- from the follower ---------------------------------------------------------------

void mirror_conn::on_data(direction d, std::span<const std::uint8_t> bytes) noexcept {
    if (_speaks == port_proto::tcp) return;
    _framer[idx(d)].feed(bytes, _sinks[idx(d)]);
}

bool mirror_conn::on_gap(direction d, std::uint32_t len) noexcept {
    if (_speaks == port_proto::tcp) {
        ++_c.gaps[static_cast<std::size_t>(gap_effect::tcp_only)];
        return false;
    }
    record_framer& f = _framer[idx(d)];
    gap_effect e = gap_effect::joined_mid_stream;
    if (len == gap_unknown) {
        f.desync();
    } else {
        const bool was_in_sync = f.in_sync();
        const bool spared = f.gap(len);
        e = !was_in_sync ? gap_effect::while_resyncing
            : !f.in_sync() ? gap_effect::lost_sync
            : spared       ? gap_effect::past_prefix
                           : gap_effect::inside_record;
    }
    ++_c.gaps[static_cast<std::size_t>(e)];
    // The server's bytes only: a client's lost bytes may be a request that
    // has to be replayed whole.
    return e == gap_effect::past_prefix && d == direction::to_client;
}

void mirror_conn::on_end(direction, stream_end) noexcept {
    // Nothing to do: a record cut by the end was never complete, and the
    // table lets the connection go when both ends are in (ended()).
}

// ---- records -----------------------------------------------------------------------------

void mirror_conn::on_record(direction d, const record& r) noexcept {
    ++_c.records[idx(d)];
    if (is_rpc(_speaks))
        rpc_record(d, r);
    else if (_speaks == port_proto::http)
        http_record(d, r);
    else
        smb2_record(d, r);
}

void mirror_conn::refuse(direction d) noexcept {
    _parse_error = true;
    _framer[idx(d)].desync();
}

void mirror_conn::rpc_record(direction d, const record& r) noexcept {
    std::uint32_t xid = 0;
    msg_kind kind = msg_kind::call;
    if (const auto e = peek_rpc(r.bytes, xid, kind)) {
        ++_c.rpc_errors[static_cast<std::size_t>(*e)];
        return refuse(d);
    }
    if ((kind == msg_kind::call) != (d == direction::to_server)) {
        ++_c.backchannel;  // the server calling the client: no request of the client's
        return;
    }
    msg_note note;
    note.bytes = r.total_len;
    note.whole = r.whole();
    app_message m;
    if (kind == msg_kind::call) {
        rpc_call_key key;
        if (const auto e = parse_rpc_call(r.bytes, r.total_len, m, &key)) {
            ++_c.rpc_errors[static_cast<std::size_t>(*e)];
            if (!still_taken(*e)) return refuse(d);
        }
        if (key.gss_service != 0) _gss[_gss_next++ % _gss.size()] = {xid, key.gss_service};
        take_request(m, r.bytes, note);
        return;
    }
    app_message* request = _fifo.find_request(xid);
    rpc_call_key key;
    if (request) key = {request->proto, request->procedure, gss_of(xid)};
    if (const auto e = parse_rpc_reply(r.bytes, r.total_len, key, m)) {
        ++_c.rpc_errors[static_cast<std::size_t>(*e)];
        // The XID of a call in flight says the record is its reply, even when
        // our parser cannot read all of it; an unknown XID says nothing.
        if (!request && !still_taken(*e)) return refuse(d);
    }
    m.kind = msg_kind::reply;
    m.id = xid;
    take_reply(m, note, request);
}

std::uint8_t mirror_conn::gss_of(std::uint32_t xid) const noexcept {
    for (const gss_call& g : _gss)
        if (g.service != 0 && g.xid == xid) return g.service;
    return 0;
}

void mirror_conn::smb2_record(direction d, const record& r) noexcept {
    if (_opaque) {
        ++_c.opaque_records;
        return;
    }
    std::array<app_message, max_smb2_messages> msgs;
    const smb2::result res = smb2::parse(r.bytes, r.total_len, d, msgs);
    ++_c.smb2_outcomes[static_cast<std::size_t>(res.what)];
    if (smb2::is_opaque(res.what)) {
        _opaque = true;
        ++_c.opaque_records;
        return;
    }
    bool in_chain = false;  // a CREATE came before in this chain, and every message since is related to it
    std::uint64_t create = 0;
    for (std::uint32_t i = 0; i < res.count; ++i) {
        const app_message& m = msgs[i];
        msg_note note;
        note.bytes = m.len;
        note.whole = std::size_t{m.at} + m.len <= r.bytes.size();  // a compound's first messages may be held whole
        if (m.kind == msg_kind::reply) {
            smb2_response(m, note);
            continue;
        }
        if (!(m.flags & smb2::flag_related_operations)) in_chain = false;
        if (m.procedure == smb2_cancel) {
            ++_c.cancels;
            note.expects_reply = false;
            if (_obs) _obs->on_request(*this, m, note);
            continue;
        }
        if (m.procedure == smb2_create) {
            in_chain = true;
            create = m.id;
        } else if (in_chain && all_ones(m.fh)) {
            wait_fileid(m.id, create);
        }
        take_request(m, part(r.bytes, m.at, m.len), note);
    }
    if (res.what != smb2::outcome::ok && res.what != smb2::outcome::smb1_negotiate) refuse(d);
}

void mirror_conn::smb2_response(const app_message& m, msg_note note) noexcept {
    if (m.id == smb2::unsolicited_message_id) {
        ++_c.notifications;  // an oplock or lease break: no request of the client's
        if (_obs) _obs->on_reply(*this, m, note, nullptr);
        return;
    }
    app_message* request = _fifo.find_request(m.id);
    if (smb2::is_interim(m)) {
        ++_c.interim;
        if (request) request->async_id = m.async_id;  // a CANCEL may name it so
        note.interim = true;
        if (_obs) _obs->on_reply(*this, m, note, request);
        return;
    }
    if (m.procedure == smb2_create && m.fh.len == smb2_file_id_len) resolve_fileids(m);
    take_reply(m, note, request);
}

void mirror_conn::wait_fileid(std::uint64_t request, std::uint64_t create) noexcept {
    _waits[_wait_next++ % _waits.size()] = {request, create, true};
}

void mirror_conn::resolve_fileids(const app_message& create_response) noexcept {
    for (fileid_wait& w : _waits) {
        if (!w.used || w.create != create_response.id) continue;
        w.used = false;
        if (app_message* q = _fifo.find_request(w.request)) {
            q->fh = create_response.fh;
            ++_c.fileids_resolved;
        }
    }
}

void mirror_conn::on_http_head(direction d, const http1::head& h) noexcept {
    if (d == direction::to_server) _framer[idx(direction::to_client)].http_expect(h.verb);
}

void mirror_conn::http_record(direction d, const record& r) noexcept {
    const http1::head& h = *r.http;
    app_message m;
    m.proto = app_proto::http1;
    m.count = static_cast<std::uint32_t>(r.total_len - std::min(r.total_len, h.head_len));  // the body's bytes
    msg_note note;
    note.bytes = r.total_len;
    note.whole = r.whole();
    if (d == direction::to_server) {
        m.kind = msg_kind::call;
        m.id = _http_seq[0]++;
        m.procedure = static_cast<std::uint32_t>(h.verb);
        take_request(m, r.bytes, note);
        return;
    }
    m.kind = msg_kind::reply;
    m.status = h.status;
    if (h.interim()) {  // 100 Continue, 103 Early Hints: the request goes on
        ++_c.interim;
        note.interim = true;
        m.id = _http_seq[1];
        app_message* request = _fifo.find_request(m.id);
        if (request) m.procedure = request->procedure;
        if (_obs) _obs->on_reply(*this, m, note, request);
        return;
    }
    m.id = _http_seq[1]++;
    app_message* request = _fifo.find_request(m.id);
    if (request) m.procedure = request->procedure;
    if (h.kind == http1::body::tunnel) {
        // 101 Switching Protocols or a CONNECT's tunnel: no HTTP from here on.
        _opaque = true;
        _framer[idx(direction::to_server)].http_tunnel();
    }
    take_reply(m, note, request);
}

// ---- the FIFO ---------------------------------------------------------------------------------

void mirror_conn::take_request(const app_message& m, std::span<const std::uint8_t> bytes, msg_note note) noexcept {
    if (note.whole && !bytes.empty() && _room) {
        const std::uint32_t need = _pool->chunks_for(static_cast<std::uint32_t>(bytes.size()));
        if (need > _pool->free_chunks() && need <= _pool->chunks()) {
            ++_c.evictions_asked;
            _room->make_room(*this, need);
        }
    }
    note.flaw = _fifo.push(m, bytes, note.whole, *_pool);
    ++_c.requests;
    if (_obs) _obs->on_request(*this, m, note);
}

void mirror_conn::take_reply(const app_message& m, const msg_note& note, app_message* request) noexcept {
    ++_c.replies;
    if (!request) ++_c.replies_unmatched;
    if (_obs) _obs->on_reply(*this, m, note, request);
    if (request) _fifo.answer(m, *_pool);
}

}  // namespace cg::dp::mirror
