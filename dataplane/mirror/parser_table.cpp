#include "dataplane/mirror/parser_table.hpp"

#include <cstring>
#include <new>
#include <stdexcept>
#include <type_traits>

#include "dataplane/mirror/conn_key.hpp"
#include "dataplane/pkt/classify.hpp"
#include "dataplane/pkt/wire.hpp"

namespace cg::dp::mirror {

namespace {

/// Adds counters field by field: every counter struct here is only uint64s.
template <class T>
void add_fields(T& into, const T& from) noexcept {
    static_assert(std::is_trivially_copyable_v<T> && std::has_unique_object_representations_v<T> &&
                  sizeof(T) % sizeof(std::uint64_t) == 0);
    std::array<std::uint64_t, sizeof(T) / sizeof(std::uint64_t)> a, b;
    std::memcpy(a.data(), &into, sizeof(T));
    std::memcpy(b.data(), &from, sizeof(T));
    for (std::size_t i = 0; i < a.size(); ++i) a[i] += b[i];
    std::memcpy(static_cast<void*>(&into), a.data(), sizeof(T));  // trivially copyable: its default values aside
}

constexpr std::align_val_t slot_align(std::size_t a) noexcept { return std::align_val_t{a}; }

}  // namespace

void parser_totals::add(const mirror_conn& c) noexcept {
    add_fields(tcp, c.tcp().counters());
    for (const direction d : {direction::to_server, direction::to_client})
        if (const record_framer* f = c.framer(d)) add_fields(framer[d == direction::to_server ? 0 : 1], f->counters());
    add_fields(conn, c.counters());
}

// ---- construction -----------------------------------------------------------------

std::uint32_t parser_table::index_size(std::uint32_t capacity) noexcept {
    std::uint32_t n = 16;
    while (n < 2ull * capacity) n <<= 1;  // load at most 1/2: short probes
    return n;
}

std::size_t parser_table::bytes_per_connection(const parser_table_config& cfg) noexcept {
    const std::size_t cap = std::max<std::uint32_t>(cfg.capacity, 1);
    return sizeof(slot) + mirror_conn::storage_bytes(cfg.conn) + index_size(cfg.capacity) * sizeof(std::uint32_t) / cap;
}

std::size_t parser_table::bytes_total(const parser_table_config& cfg) noexcept {
    return std::size_t{cfg.capacity} * (sizeof(slot) + mirror_conn::storage_bytes(cfg.conn)) +
           std::size_t{index_size(cfg.capacity)} * sizeof(std::uint32_t) +
           std::size_t{cfg.pool_chunks} * (cfg.chunk_size + sizeof(std::uint32_t));
}

parser_table::parser_table(const parser_table_config& cfg)
    : _cfg(cfg),
      _pool(cfg.pool_chunks, cfg.chunk_size),
      _storage(cfg.capacity * mirror_conn::storage_bytes(cfg.conn)),
      _index(index_size(cfg.capacity), none),
      _mask(index_size(cfg.capacity) - 1) {
    if (cfg.capacity == 0) throw std::invalid_argument("parser_table: a capacity of at least one connection");
    if (cfg.capacity >= none / 2) throw std::invalid_argument("parser_table: capacity too large");
    // Last, so that nothing before it can throw and leak it.
    _slots = static_cast<slot*>(::operator new(sizeof(slot) * cfg.capacity, slot_align(alignof(slot))));
    const std::size_t per = mirror_conn::storage_bytes(cfg.conn);
    for (std::uint32_t i = 0; i < cfg.capacity; ++i) {
        new (&_slots[i]) slot(cfg.conn, std::span<std::uint8_t>(_storage.data() + i * per, per), _pool);
        _slots[i].next = i + 1 < cfg.capacity ? i + 1 : none;
    }
    _free = 0;
}

parser_table::~parser_table() {
    for (std::uint32_t i = 0; i < _cfg.capacity; ++i) _slots[i].~slot();
    ::operator delete(_slots, slot_align(alignof(slot)));
}

// ---- lookup ---------------------------------------------------------------------------

std::uint32_t parser_table::find_slot(const common::flow_key& k, std::uint32_t hash) const noexcept {
    for (std::uint32_t pos = hash & _mask;; pos = (pos + 1) & _mask) {
        const std::uint32_t i = _index[pos];
        if (i == none) return none;
        if (_slots[i].hash == hash && _slots[i].key == k) return i;
    }
}

const mirror_conn* parser_table::find(const conn_endpoints& ep) const noexcept {
    common::flow_key f;
    f.saddr = ep.client_addr;
    f.daddr = ep.server_addr;
    f.sport = ep.client_port;
    f.dport = ep.server_port;
    f.proto = 6;
    const common::flow_key k = either_way_key(f);
    const std::uint32_t i = find_slot(k, common::flow_hash(k));
    if (i == none || !(_slots[i].conn.endpoints() == ep)) return nullptr;
    return &_slots[i].conn;
}

const parser_table::slot& parser_table::slot_of(const mirror_conn& c) const noexcept {
    // `c` lies inside slot i, whatever its offset there.
    const auto at = reinterpret_cast<std::uintptr_t>(&c) - reinterpret_cast<std::uintptr_t>(_slots);
    return _slots[at / sizeof(slot)];
}

std::uint32_t parser_table::last_seen(const mirror_conn& c) const noexcept { return slot_of(c).last_seen; }

const common::mac_addr& parser_table::server_mac(const mirror_conn& c) const noexcept { return slot_of(c).server_mac; }

void parser_table::index_erase(std::uint32_t i) noexcept {
    std::uint32_t hole = _slots[i].hash & _mask;
    while (_index[hole] != i) hole = (hole + 1) & _mask;
    // Backward shift (no tombstones): an entry further on moves into the
    // hole when the hole lies between its home and where it is now.
    for (std::uint32_t j = (hole + 1) & _mask; _index[j] != none; j = (j + 1) & _mask) {
        const std::uint32_t home = _slots[_index[j]].hash & _mask;
        if (((j - home) & _mask) >= ((j - hole) & _mask)) {
            _index[hole] = _index[j];
            hole = j;
        }
    }
    _index[hole] = none;
}

// ---- the lists -------------------------------------------------------------------------

void parser_table::unlink(std::uint32_t i) noexcept {
    slot& s = _slots[i];
    if (s.list == free_list) return;
    list& l = _lists[s.list];
    (s.prev == none ? l.head : _slots[s.prev].next) = s.next;
    (s.next == none ? l.tail : _slots[s.next].prev) = s.prev;
    s.prev = s.next = none;
    s.list = free_list;
}

void parser_table::link(std::uint32_t i, list_id id) noexcept {
    unlink(i);
    slot& s = _slots[i];
    list& l = _lists[id];
    s.list = id;
    s.prev = none;
    s.next = l.head;
    (l.head == none ? l.tail : _slots[l.head].prev) = i;
    l.head = i;
}

std::uint32_t parser_table::lru() const noexcept {
    const std::uint32_t a = _lists[active].tail, b = _lists[fin].tail;
    if (a == none) return b;
    if (b == none) return a;
    return _slots[a].last_use < _slots[b].last_use ? a : b;
}

bool parser_table::expired(const slot& s, std::uint32_t now_ms) const noexcept {
    const std::uint32_t limit = s.list == fin ? _cfg.fin_timeout_ms : _cfg.stale_timeout_ms;
    return now_ms - s.last_seen >= limit;
}

// ---- connections come and go ----------------------------------------------------------------

conn_endpoints parser_table::roles(const common::flow_key& f, const tcp_segment& seg) const noexcept {
    const bool syn = seg.flags & wire::tcp_syn, ack = seg.flags & wire::tcp_ack;
    bool src_is_client;
    if (syn) {
        src_is_client = !ack;  // a SYN comes from the client, a SYN-ACK from the server
    } else if (_cfg.ports.has(f.sport) != _cfg.ports.has(f.dport)) {
        src_is_client = _cfg.ports.has(f.dport);
    } else {
        src_is_client = f.sport >= f.dport;  // servers listen on the lower port, as a rule
    }
    conn_endpoints ep;
    ep.client_addr = src_is_client ? f.saddr : f.daddr;
    ep.client_port = src_is_client ? f.sport : f.dport;
    ep.server_addr = src_is_client ? f.daddr : f.saddr;
    ep.server_port = src_is_client ? f.dport : f.sport;
    return ep;
}

bool parser_table::new_incarnation(const mirror_conn& c, const common::flow_key& f, const tcp_segment& syn) noexcept {
    const conn_endpoints& ep = c.endpoints();
    const bool from_client = f.saddr == ep.client_addr && f.sport == ep.client_port;
    const tcp_stream_info& cs = c.tcp().stream(direction::to_server);
    return !(from_client && cs.syn_seen && cs.isn == syn.seq);  // else a retransmission
}

std::uint32_t parser_table::make(const common::flow_key& k, std::uint32_t hash, const conn_endpoints& ep,
                                 std::uint32_t now_ms) noexcept {
    if (_size == _cfg.capacity) release(lru(), release_reason::evicted_full);
    const std::uint32_t i = _free;
    slot& s = _slots[i];
    _free = s.next;
    s.next = s.prev = none;
    s.list = free_list;
    s.key = k;
    s.hash = hash;
    s.last_seen = now_ms;
    std::uint32_t pos = hash & _mask;
    while (_index[pos] != none) pos = (pos + 1) & _mask;
    _index[pos] = i;
    ++_size;
    ++_c.created;
    s.conn.start(ep, _cfg.ports.of(ep.server_port), ++_serials, _obs, this);
    return i;
}

void parser_table::release(std::uint32_t i, release_reason why) noexcept {
    slot& s = _slots[i];
    if (conn_observer* o = s.conn.observer()) o->on_release(s.conn, why);
    _gone.add(s.conn);
    s.conn.release();
    unlink(i);
    index_erase(i);
    s.next = _free;
    _free = i;
    --_size;
    ++_c.released[static_cast<std::size_t>(why)];
}

bool parser_table::make_room(const mirror_conn& asking, std::uint32_t chunks) noexcept {
    // Least recently used first, over both lists; only connections that hold
    // chunks are worth evicting.
    std::uint32_t a = _lists[active].tail, b = _lists[fin].tail;
    for (std::uint32_t looked = 0; (a != none || b != none) && looked < _cfg.room_scan; ++looked) {
        if (_pool.free_chunks() >= chunks) break;
        std::uint32_t& pick = (b == none || (a != none && _slots[a].last_use < _slots[b].last_use)) ? a : b;
        const std::uint32_t i = pick;
        pick = _slots[i].prev;  // before i leaves its list
        if (&_slots[i].conn == &asking || _slots[i].conn.fifo().held() == 0) continue;
        release(i, release_reason::evicted_memory);
    }
    return _pool.free_chunks() >= chunks;
}

// ---- frames and time -----------------------------------------------------------------------------

frame_verdict parser_table::frame(const std::uint8_t* p, std::uint32_t len, std::uint32_t now_ms) noexcept {
    pkt_info info;
    if (const auto r = classify(p, len, info)) {
        ++_c.dropped[static_cast<std::size_t>(*r)];
        return count(frame_verdict::dropped);
    }
    if (info.kind != pkt_kind::tcp) return count(frame_verdict::not_tcp);
    tcp_segment seg;
    const std::uint32_t ihl = info.l4_off - info.l3_off;
    if (!read_tcp_segment({p + info.l4_off, static_cast<std::size_t>(info.ip_len - ihl)}, direction::to_server, seg)) {
        ++_c.dropped[static_cast<std::size_t>(drop_reason::bad_l4_header)];  // the classifier checked it already
        return count(frame_verdict::dropped);
    }

    const common::flow_key k = either_way_key(info.key);
    const std::uint32_t hash = common::flow_hash(k);
    std::uint32_t i = find_slot(k, hash);
    const bool syn = seg.flags & wire::tcp_syn;
    if (i != none) {
        const slot& s = _slots[i];
        if (expired(s, now_ms)) {  // age() has not come to it yet
            release(i, s.list == fin ? release_reason::fin_timeout : release_reason::stale_timeout);
            i = none;
        } else if (syn && !(seg.flags & wire::tcp_ack) && new_incarnation(s.conn, info.key, seg)) {
            release(i, release_reason::reused);
            i = none;
        }
    }
    if (i == none) {
        if ((seg.flags & wire::tcp_rst) || (!syn && seg.payload.empty())) return count(frame_verdict::no_connection);
        i = make(k, hash, roles(info.key, seg), now_ms);
        if (!syn) ++_c.created_mid_stream;
    }

    slot& s = _slots[i];
    const conn_endpoints& ep = s.conn.endpoints();
    seg.dir = info.key.saddr == ep.client_addr && info.key.sport == ep.client_port ? direction::to_server
                                                                                    : direction::to_client;
    const std::uint64_t retransmits = s.conn.tcp().counters().retransmits;
    s.conn.follow(seg);
    const std::uint8_t* server_mac = p + (seg.dir == direction::to_server ? 0 : 6);
    if (seg.dir == direction::to_client)
        _watch.heard(node_watch::key_of(server_mac), now_ms);
    else if (s.conn.tcp().counters().retransmits != retransmits)
        _watch.retransmitted(node_watch::key_of(server_mac), now_ms);
    s.last_seen = now_ms;
    std::memcpy(s.server_mac.b.data(), server_mac, 6);
    s.last_use = ++_uses;
    if (s.conn.ended())
        release(i, s.conn.tcp().state() == tcp_state::reset ? release_reason::reset : release_reason::fin);
    else
        link(i, s.conn.tcp().state() == tcp_state::closing ? fin : active);
    return count(frame_verdict::followed);
}

std::uint32_t parser_table::age(std::uint32_t now_ms, std::uint32_t budget) noexcept {
    std::uint32_t n = 0;
    for (const list_id l : {fin, active}) {
        const release_reason why = l == fin ? release_reason::fin_timeout : release_reason::stale_timeout;
        while (n < budget && _lists[l].tail != none && expired(_slots[_lists[l].tail], now_ms)) {
            release(_lists[l].tail, why);
            ++n;
        }
    }
    return n;
}

void parser_table::clear() noexcept {
    while (_size > 0) {
        const std::uint32_t a = _lists[active].head, b = _lists[fin].head;
        if (a == none && b == none) return;  // every live connection is on a list once its frame is done
        release(b == none || (a != none && _slots[a].last_use > _slots[b].last_use) ? a : b, release_reason::cleared);
    }
}

parser_totals parser_table::totals() const noexcept {
    parser_totals t = _gone;
    for_each([&](const mirror_conn& c) { t.add(c); });
    return t;
}

}  // namespace cg::dp::mirror
