// libFuzzer harness for the data plane's packet path: frame bytes from the
// wire -> classify -> router::route_burst -> verdict, and the aging sweep.
//
// Every input is routed once as a single frame and once split into a
// sequence of bursts (router_input.hpp has the format) over fixture tables:
// cluster 198.18.0.100 with tcp/80 (nodes .11 .12 .13, .13 resolved by ARP)
// and udp/53 (node .11), a "lan" port with an address and a "wan" port
// without. The records may step the clock and move through three snapshots
// (.12 removed and draining, then its slot released and reused) so that
// expiry and "node gone" paths are reached too.
//
// After every burst and every aging step the harness checks what the rest
// of the gateway relies on, and aborts (a crash to libFuzzer) otherwise:
//  - per node slot, the active and fin gauges equal the entries of the
//    table in that state, so the table size equals their sum;
//  - a forwarded frame carries the MAC of a forwardable node of the snapshot
//    as destination, the MAC of the port it leaves by as source, and every
//    byte from offset 12 on is unchanged;
//  - a drop names a reason below count_, each drop and forward is counted
//    exactly once, and every received packet is accounted for exactly once
//    (worker_stats::accounted); a reply leaves by the port it came in on, and
//    a shortened one (a TCP reset) is a RST of the reversed flow.
//
// The fixture mirrors every frame (mirror port "wan"), and a standby
// worker follows every forwarded frame as the active wrote it
// (dataplane/mirror/follower.hpp), over standby snapshots of the same
// tables: each copy must be followed (or meet a full table, which entries
// the active dropped on lookup and the standby's sweep has not reached yet
// explain), onto the node the active's entry names; its table keeps the
// same gauge invariants. A third worker follows the input's raw frames,
// whatever they are.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "dataplane/mirror/follower.hpp"
#include "dataplane/pkt/classify.hpp"
#include "dataplane/pkt/wire.hpp"
#include "router_input.hpp"
#include "support/router_fixture.hpp"

namespace {

using namespace cg;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_router: invariant violated: %s\n", what);
    std::abort();
}

/// A small table, so that "table full" and probe collisions are reachable
/// by inputs of a few hundred bytes (conn_table::slots_for gives 64 slots).
constexpr std::uint32_t max_conns = 8;
/// Near the 32-bit wrap: clock arithmetic is by difference and must survive it.
constexpr std::uint32_t start_ms = 0xffff'f000u;

/// The snapshots, built once: tables never change under a worker, only
/// replaced, and building them per input would dominate the run time.
struct tables {
    test::router_fixture fx{max_conns};  // its slot map, ports and ARP cache; its router stays unused
    std::vector<std::unique_ptr<dp::snapshot>> snaps;
    std::vector<std::unique_ptr<dp::snapshot>> standby;  ///< the same tables, as the standby has them

    tables() {
        fx.ports.push_back({"wan", 1, fuzz::wan_mac, std::nullopt});
        fx.mirror = common::mirror_cfg{"wan", common::mirror_mode::every_frame, common::millis{1000}, {}};
        // .13 has no configured MAC: the data plane learned it by ARP.
        fx.http().nodes[2].mac.reset();
        fx.arp[{0, test::node_ip(3)}] = test::node_mac(3);
        take();

        // .12 leaves tcp/80 (drains, keeps its connections); .11 quiesced
        // there; udp/53's only node at weight 0, so it has no node at all.
        // And a reset window open across the clock's wrap: unknown
        // connections' segments are answered with resets.
        fx.http().nodes.erase(fx.http().nodes.begin() + 1);
        fx.http().nodes[0].quiesced = true;
        fx.clusters[0].ports[1].nodes[0].weight = 0;
        fx.reset_until = start_ms + 0x2000u;
        take();
        fx.reset_until = 0;

        // .12's slot is released (generation bumped) and taken by a new .14:
        // entries that still name the slot must be recognised as gone.
        fx.slots.release_drained([](std::uint16_t) { return true; });
        fx.http().nodes[0].quiesced = false;
        fx.clusters[0].ports[1].nodes[0].weight = 1;
        fx.http().nodes.push_back(test::router_fixture::node(4, 2));
        take();
    }
    void take() {
        fx.rebuild();
        snaps.push_back(std::move(fx.snap));
        fx.role = dp::gateway_role::standby;
        fx.rebuild();
        standby.push_back(std::move(fx.snap));
        fx.role = dp::gateway_role::active;
    }
};

/// One worker's state, fresh for every input so that runs are reproducible.
struct worker : test::test_worker {
    dp::follower follower{router};
    explicit worker(const dp::snapshot& s) : test_worker(max_conns, s.services.size(), s.nodes.size()) {}

    const dp::conn_entry* find(const dp::pkt_info& info) {
        const auto pr = table.lookup(info.key, common::flow_hash(info.key));
        return pr.hit ? pr.e : nullptr;
    }

    /// Per node slot: gauges == entries in that state; hence size == sum.
    void check_table() const {
        std::vector<std::uint64_t> active(nstats.size()), fin(nstats.size());
        std::uint64_t entries = 0;
        for (const auto& e : table_mem) {
            if (e.state == dp::conn_state::empty) continue;
            ++entries;
            if (e.node >= nstats.size()) fail("a table entry names a node slot past the snapshot");
            (e.state == dp::conn_state::fin ? fin : active)[e.node]++;
        }
        if (entries != table.size()) fail("conn_table::size() differs from the entries in the table");
        std::uint64_t gauges = 0;
        for (std::size_t i = 0; i < nstats.size(); ++i) {
            if (nstats[i].active.read() != active[i]) fail("a node's active gauge differs from its ACTIVE entries");
            if (nstats[i].fin.read() != fin[i]) fail("a node's fin gauge differs from its FIN entries");
            gauges += nstats[i].active.read() + nstats[i].fin.read();
        }
        if (gauges != table.size()) fail("table size != sum of the per-node active+fin gauges");
    }
};

/// Frames of one burst, each in its own allocation of exactly its length so
/// that AddressSanitizer catches any read or write past it.
struct burst {
    std::vector<std::unique_ptr<std::uint8_t[]>> frames;
    std::vector<std::vector<std::uint8_t>> original;
    std::vector<std::uint8_t*> ptrs;
    std::vector<std::uint32_t> lens;
    std::vector<std::uint16_t> ports;

    void add(const std::uint8_t* p, std::size_t n, std::uint16_t port) {
        frames.emplace_back(new std::uint8_t[n]);
        if (n) std::memcpy(frames.back().get(), p, n);
        original.emplace_back(p, p + n);
        ptrs.push_back(frames.back().get());
        lens.push_back(static_cast<std::uint32_t>(n));
        ports.push_back(port);
    }
    std::size_t size() const { return frames.size(); }
    void clear() { *this = burst{}; }
};

bool is_node_mac(const dp::snapshot& s, const std::uint8_t* mac, std::uint16_t tx_port) {
    for (const auto& n : s.nodes)
        if (n.forwardable() && n.tx_port == tx_port && std::memcmp(n.mac.b.data(), mac, 6) == 0) return true;
    return false;
}

/// The standby's side of one forwarded frame: followed (the flow goes into
/// `followed`, to compare both tables once the burst is done: the active's
/// table is then past the whole burst).
void follow_copy(worker& sw, const dp::snapshot& ssnap, const std::uint8_t* f, std::uint32_t len, std::uint32_t now,
                 std::vector<dp::pkt_info>& followed) {
    const dp::follow_outcome o = sw.follower.follow(ssnap, f, len, now);
    if (o == dp::follow_outcome::table_full) return;
    if (o != dp::follow_outcome::followed) fail("the standby did not follow a frame the active forwarded");
    dp::pkt_info info;
    if (dp::classify(f, len, info)) fail("a forwarded frame does not classify");
    followed.push_back(info);
}

/// After a burst: each flow the standby followed is held by both or by neither, on one node, in one state.
void compare(worker& w, worker& sw, const std::vector<dp::pkt_info>& followed) {
    for (const dp::pkt_info& info : followed) {
        const dp::conn_entry* a = w.find(info);
        const dp::conn_entry* s = sw.find(info);
        if (!a != !s) fail("after a copy, one of the pair holds the connection and the other does not");
        if (a && (a->node != s->node || a->state != s->state)) fail("the standby holds a copied connection otherwise");
    }
}

void route(worker& w, const dp::snapshot& snap, burst& b, std::uint32_t now, worker& sw,
           const dp::snapshot& ssnap) {
    if (b.size() == 0) return;
    const auto n = static_cast<std::uint32_t>(b.size());
    std::vector<dp::verdict> out(n);
    const std::uint64_t drops_before = w.stats.drops_total();
    const std::uint64_t fwd_before = w.stats.fwd_pkts.read();
    w.router.route_burst(snap, b.ptrs.data(), b.lens.data(), b.ports.data(), n, now, out.data());

    std::uint64_t drops = 0, fwds = 0;
    std::vector<dp::pkt_info> followed;
    for (std::uint32_t i = 0; i < n; ++i) {
        const dp::verdict v = out[i];
        const std::uint8_t* f = b.ptrs[i];
        const std::uint32_t len = b.lens[i];
        switch (v.act) {
        case dp::action::drop:
            ++drops;
            if (v.mirror) fail("a dropped frame marked for the mirror");
            if (v.why >= dp::drop_reason::count_) fail("a drop verdict without a valid reason");
            break;
        case dp::action::forward:
            ++fwds;
            if (v.mirror) follow_copy(sw, ssnap, f, len, now, followed);
            if (len < 12) fail("forwarded a frame shorter than two MAC addresses");
            if (v.tx_port >= snap.ports.size()) fail("forward to a port the snapshot does not have");
            if (!is_node_mac(snap, f, v.tx_port)) fail("forwarded frame's destination is not a node's MAC");
            if (std::memcmp(f + 6, snap.ports[v.tx_port].mac.b.data(), 6) != 0)
                fail("forwarded frame's source is not the gateway port's MAC");
            if (std::memcmp(f + 12, b.original[i].data() + 12, len - 12) != 0)
                fail("forwarding changed bytes past the Ethernet addresses");
            break;
        case dp::action::reply:
            if (v.tx_port != b.ports[i]) fail("a reply does not leave by its ingress port");
            if (v.len != 0) {  // a TCP reset: a well-formed RST of the reversed flow
                dp::pkt_info in, out;
                if (v.len > len) fail("a reply longer than its frame");
                if (dp::classify(b.original[i].data(), len, in) || dp::classify(f, v.len, out))
                    fail("a reset of a frame that does not classify, or that does not classify itself");
                if (out.kind != dp::pkt_kind::tcp || !(out.tcp_flags & dp::wire::tcp_rst) ||
                    out.key.saddr != in.key.daddr || out.key.daddr != in.key.saddr ||
                    out.key.sport != in.key.dport || out.key.dport != in.key.sport)
                    fail("a reset that is not a RST of the reversed flow");
            }
            break;
        case dp::action::consume: break;
        default: fail("a verdict with an unknown action");
        }
    }
    if (w.stats.drops_total() - drops_before != drops) fail("drops counted != drop verdicts");
    if (w.stats.fwd_pkts.read() - fwd_before != fwds) fail("fwd_pkts counted != forward verdicts");
    if (w.stats.accounted() != w.stats.rx_pkts.read()) fail("a received packet not accounted exactly once");

    for (const auto& l : w.router.learned())
        if (!snap.is_arp_target(l.ip)) fail("learned the MAC of an address that is no ARP target");
    w.router.clear_learned();  // as the worker does once it has passed them on
    w.check_table();
    sw.check_table();
    compare(w, sw, followed);
    if (sw.stats.accounted() != sw.stats.rx_pkts.read()) fail("a mirrored frame not accounted exactly once");
    b.clear();
}

void age(worker& w, const dp::snapshot& snap, std::uint32_t now, worker& sw, const dp::snapshot& ssnap) {
    w.router.age(snap, now);
    w.check_table();
    sw.router.age(ssnap, now);
    sw.check_table();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const tables t;
    std::size_t snap_ix = 0;
    const dp::snapshot* snap = t.snaps[snap_ix].get();
    const dp::snapshot* ssnap = t.standby[snap_ix].get();
    worker w(*snap), sw(*ssnap);
    std::uint32_t now = start_ms;
    age(w, *snap, now, sw, *ssnap);  // the first call only starts the aging clock

    // The whole input as one frame, as the NIC would hand it over; and as
    // the standby's mirror port would, to a worker of its own.
    {
        worker raw(*ssnap);
        raw.follower.follow(*ssnap, data, static_cast<std::uint32_t>(size), now);
        raw.check_table();
        if (raw.stats.accounted() != raw.stats.rx_pkts.read()) fail("a raw mirrored frame not accounted once");
    }
    burst b;
    b.add(data, size, 0);
    route(w, *snap, b, now, sw, *ssnap);

    // The input as records: bursts on both ports, clock steps, new snapshots.
    std::size_t pos = 0;
    while (size - pos >= fuzz::record_header) {
        const std::size_t want = data[pos] | (std::size_t{data[pos + 1]} << 8);
        const std::uint8_t ctl = data[pos + 2];
        pos += fuzz::record_header;
        const std::size_t len = std::min(want, size - pos);

        const std::uint32_t step = fuzz::clock_steps[(ctl >> fuzz::ctl_step_shift) & fuzz::ctl_step_mask];
        const bool next = (ctl & fuzz::ctl_next_snapshot) && snap_ix + 1 < t.snaps.size();
        if (step || next || (ctl & fuzz::ctl_end_burst) || b.size() == dp::router::max_burst)
            route(w, *snap, b, now, sw, *ssnap);
        if (next) {
            snap = t.snaps[++snap_ix].get();
            ssnap = t.standby[snap_ix].get();
        }
        if (step || next) {
            now += step;
            if (!(ctl & fuzz::ctl_no_aging)) age(w, *snap, now, sw, *ssnap);
        }
        b.add(data + pos, len, static_cast<std::uint16_t>(ctl & fuzz::ctl_port_mask));
        pos += len;
    }
    route(w, *snap, b, now, sw, *ssnap);

    // Let every timer run out; the sweep visits the whole (small) table.
    for (std::uint32_t step : {1u, 3'000u, 10'000u, 10'000u}) {
        now += step;
        age(w, *snap, now, sw, *ssnap);
    }
    return 0;
}
