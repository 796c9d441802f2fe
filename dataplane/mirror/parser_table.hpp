// The connections one mirror parser lcore follows (requirements 6.2, 6.5,
// 2.7; docs/architecture.md "The mirror parser"): frames from a mirror port
// in, a table of mirror_conn out.
//
//  - frame(): Ethernet / VLAN / IPv4 / TCP through dataplane/pkt's
//    classifier, then the connection by its 4-tuple, whichever way the frame
//    went. A connection is made by a SYN (its sender is the client), a
//    SYN-ACK (its sender is the server) or, joined mid-stream, by the first
//    segment with bytes (the server is the port in the port_map, else the
//    lower port). A bare ACK, FIN or RST of no known connection makes none:
//    after a close its last ACK would make a ghost connection. A SYN with
//    another ISN on a known 4-tuple starts a new connection (reused).
//  - Release: both FINs through or an RST removes the connection at once;
//    the timers of requirements 2.7 remove the others: STALE_TIME_OUT after
//    its last segment for an open one, FIN_TIME_OUT for one with a FIN seen
//    (age(); a frame for an expired connection expires it first).
//  - Bounded: `capacity` connections in slots made at construction, each
//    with its storage (follower rings, record buffers), and one chunk_pool
//    for the unanswered requests' bytes. When the table is full the least
//    recently used connection is evicted; when the pool has no room for a
//    request, the least recently used others that hold chunks are.
//  - Order: every frame moves its connection to the front; for_each lists
//    the most recently used first (requirements 6.5: restore in that order).
//
// Nothing is allocated and nothing is logged per frame; every frame is
// counted once (table_counters) and every drop by reason.
//
// Ownership: one per mirror parser lcore, fed by its SPSC ring; the control
// thread reaches it only through that lcore. Not thread-safe. Called from:
// the mirror parser lcore, the offline reader (cg-mirror-read), tests, fuzzers.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/flow_key.hpp"
#include "dataplane/mirror/chunk_pool.hpp"
#include "dataplane/mirror/mirror_conn.hpp"
#include "dataplane/mirror/node_watch.hpp"
#include "dataplane/pkt/drop_reason.hpp"

namespace cg::dp::mirror {

struct parser_table_config {
    std::uint32_t capacity = 1024;  ///< connections followed at once (at least 1)
    mirror_conn_config conn;
    /// The unanswered requests' bytes: chunks x chunk_size (16 MiB by default).
    std::uint32_t pool_chunks = 8192;
    std::uint32_t chunk_size = 2048;
    /// Requirements 2.7; the defaults are the gateway's (common/config.hpp).
    std::uint32_t stale_timeout_ms = 8'100'000;
    std::uint32_t fin_timeout_ms = 90'000;
    port_map ports = port_map::defaults();
    /// Connections looked at, least recently used first, to free chunks for a request.
    std::uint32_t room_scan = 64;
};

/// What became of one frame (each also counted).
enum class frame_verdict : std::uint8_t {
    followed,       ///< given to its connection (made for it, maybe)
    dropped,        ///< malformed or not IPv4 (the classifier's drop_reason)
    not_tcp,        ///< UDP, ICMP, ARP, another protocol
    no_connection,  ///< a bare ACK, FIN or RST of no connection in the table
    count_
};
inline constexpr std::size_t frame_verdict_count = static_cast<std::size_t>(frame_verdict::count_);
inline constexpr std::array<std::string_view, frame_verdict_count> frame_verdict_names = {
    "followed", "dropped", "not_tcp", "no_connection",
};

/// The table's own counters. Written only by the owner lcore.
struct table_counters {
    std::array<std::uint64_t, frame_verdict_count> frames{};
    std::array<std::uint64_t, drop_reason_count> dropped{};  ///< frames dropped, by the classifier's reason
    std::uint64_t created = 0;             ///< connections made
    std::uint64_t created_mid_stream = 0;  ///< of them, by a segment with bytes (no SYN seen)
    std::array<std::uint64_t, release_reason_count> released{};
};

/// Everything the connections counted, those gone and those still in the
/// table (parser_table::totals): what `show mirror` and telemetry show.
struct parser_totals {
    tcp_follower_counters tcp;
    std::array<framer_counters, 2> framer{};  ///< [0] the clients' records, [1] the servers'
    conn_counters conn;

    void add(const mirror_conn& c) noexcept;
};

class parser_table final : private chunk_room {
public:
    /// Makes every slot, its storage and the chunk pool (the only
    /// allocations). Throws std::invalid_argument on a capacity or pool of 0,
    /// std::bad_alloc when memory is short.
    explicit parser_table(const parser_table_config& cfg);
    ~parser_table();
    parser_table(const parser_table&) = delete;
    parser_table& operator=(const parser_table&) = delete;

    /// One frame from the mirror port at `now_ms` (the lcore's millisecond
    /// clock; wraps, compared by difference). The frame is only read.
    frame_verdict frame(const std::uint8_t* p, std::uint32_t len, std::uint32_t now_ms) noexcept;

    /// Removes up to `budget` connections whose timer ran out by `now_ms`,
    /// oldest first; returns how many. Cheap when none has: it looks at the
    /// least recently used of each timer's list only.
    std::uint32_t age(std::uint32_t now_ms, std::uint32_t budget = UINT32_MAX) noexcept;

    /// Releases every connection (release_reason::cleared), most recently used first.
    void clear() noexcept;

    /// Hears of messages and releases (nullptr: none). Applies to
    /// connections made after the call.
    void set_observer(conn_observer* o) noexcept { _obs = o; }

    /// Calls f(const mirror_conn&) for each connection, most recently used first.
    template <class F>
    void for_each(F&& f) const {
        std::uint32_t a = _lists[0].head, b = _lists[1].head;
        while (a != none || b != none) {
            std::uint32_t& pick = (b == none || (a != none && _slots[a].last_use > _slots[b].last_use)) ? a : b;
            const std::uint32_t i = pick;
            pick = _slots[i].next;
            f(static_cast<const mirror_conn&>(_slots[i].conn));
        }
    }

    /// Calls f(const mirror_conn&) for each connection in slots [from, end)
    /// in slot order until f returns false; returns the slot it stopped at,
    /// or `end` (clamped to capacity()). A connection keeps its slot for its
    /// life, so a walk in pieces (restore plans by cursor) lists each
    /// connection once, however traffic reorders them meanwhile; it misses
    /// only connections made behind it.
    template <class F>
    std::uint32_t for_each_slot(std::uint32_t from, std::uint32_t end, F&& f) const {
        end = std::min(end, _cfg.capacity);
        for (std::uint32_t i = from; i < end; ++i)
            if (_slots[i].list != free_list && !f(static_cast<const mirror_conn&>(_slots[i].conn))) return i;
        return end;
    }

    /// The connection with these endpoints, or nullptr.
    const mirror_conn* find(const conn_endpoints& ep) const noexcept;
    /// When `c`, one of this table's connections, last had a frame (the
    /// clock frame() was given).
    std::uint32_t last_seen(const mirror_conn& c) const noexcept;
    /// The MAC address of `c`'s server as its last frame showed it (the
    /// destination of a client's frame, the source of the server's): the
    /// node, since the gateway forwards by MAC.
    const common::mac_addr& server_mac(const mirror_conn& c) const noexcept;

    std::uint32_t size() const noexcept { return _size; }
    std::uint32_t capacity() const noexcept { return _cfg.capacity; }
    const table_counters& counters() const noexcept { return _c; }
    /// The connections' counters, summed over those gone and those here.
    parser_totals totals() const noexcept;
    const chunk_pool& pool() const noexcept { return _pool; }
    /// Each node's last frame and its clients' retransmissions since.
    const node_watch& watch() const noexcept { return _watch; }
    const parser_table_config& config() const noexcept { return _cfg; }

    /// Memory per connection slot: the slot (sizeof, its mirror_conn
    /// included), its storage, its share of the index.
    static std::size_t bytes_per_connection(const parser_table_config& cfg) noexcept;
    /// All the table holds: slots, storage, index, chunk pool.
    static std::size_t bytes_total(const parser_table_config& cfg) noexcept;

private:
    static constexpr std::uint32_t none = UINT32_MAX;
    enum list_id : std::uint8_t { active = 0, fin = 1, free_list = 2 };

    struct slot {
        slot(const mirror_conn_config& cfg, std::span<std::uint8_t> storage, chunk_pool& pool) noexcept
            : conn(cfg, storage, pool) {}

        mirror_conn conn;
        common::flow_key key;  ///< either_way_key (conn_key.hpp)
        std::uint32_t hash = 0;
        std::uint32_t last_seen = 0;  ///< clock of its last frame
        common::mac_addr server_mac;  ///< from its last frame
        std::uint64_t last_use = 0;   ///< order of its last frame (ties of the clock broken)
        std::uint32_t prev = none, next = none;
        list_id list = free_list;
    };
    struct list {
        std::uint32_t head = none, tail = none;  ///< head: most recently used
    };

    conn_endpoints roles(const common::flow_key& frame_key, const tcp_segment& seg) const noexcept;
    static bool new_incarnation(const mirror_conn& c, const common::flow_key& frame_key, const tcp_segment& syn) noexcept;
    frame_verdict count(frame_verdict v) noexcept {
        ++_c.frames[static_cast<std::size_t>(v)];
        return v;
    }
    static std::uint32_t index_size(std::uint32_t capacity) noexcept;
    std::uint32_t find_slot(const common::flow_key& k, std::uint32_t hash) const noexcept;
    std::uint32_t make(const common::flow_key& k, std::uint32_t hash, const conn_endpoints& ep, std::uint32_t now_ms) noexcept;
    void release(std::uint32_t i, release_reason why) noexcept;
    bool expired(const slot& s, std::uint32_t now_ms) const noexcept;
    const slot& slot_of(const mirror_conn& c) const noexcept;
    /// The least recently used connection (of both lists), or none.
    std::uint32_t lru() const noexcept;
    void link(std::uint32_t i, list_id l) noexcept;
    void unlink(std::uint32_t i) noexcept;
    void index_erase(std::uint32_t i) noexcept;
    bool make_room(const mirror_conn& asking, std::uint32_t chunks) noexcept override;

    parser_table_config _cfg;
    chunk_pool _pool;
    std::vector<std::uint8_t> _storage;
    slot* _slots = nullptr;  ///< capacity of them, made in place (a mirror_conn does not move)
    std::vector<std::uint32_t> _index;  ///< open addressing, slot numbers; none when empty
    std::uint32_t _mask = 0;
    std::array<list, 2> _lists{};
    std::uint32_t _free = none;  ///< free slots, through `next`
    std::uint32_t _size = 0;
    std::uint64_t _uses = 0;
    std::uint64_t _serials = 0;
    conn_observer* _obs = nullptr;
    table_counters _c;
    node_watch _watch;
    parser_totals _gone;  ///< what released connections had counted
};

}  // namespace cg::dp::mirror
