#include "dataplane/eal/worker.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "dataplane/eal/tsc_clock.hpp"
#include "dataplane/pkt/arp_icmp.hpp"

namespace cg::dp {

namespace {
static_assert(RTE_MAX_ETHPORTS <= 64, "the TX pending mask is 64 bits");
constexpr std::uint32_t arp_round_ms = 1000;  ///< unresolved nodes are asked every second
constexpr unsigned job_ring_size = 64;
constexpr unsigned learned_ring_size = 256;
}  // namespace

worker::worker(const worker_config& cfg, snapshot_publisher& pub)
    : _cfg(cfg),
      _pub(pub),
      _wrr(cfg.services),
      _stats(std::make_unique<worker_stats>()),
      _nodes(cfg.nodes),
      _services(cfg.services),
      _tx(RTE_MAX_ETHPORTS),
      _arp_asked(cfg.nodes) {
    const std::uint32_t slots = conn_table::slots_for(cfg.max_connections);
    const std::size_t bytes = std::size_t{slots} * sizeof(conn_entry);
    _table_mem = static_cast<conn_entry*>(
        rte_zmalloc_socket(fmt::format("cg_conns_{}", cfg.index).c_str(), bytes, RTE_CACHE_LINE_SIZE, cfg.socket));
    if (!_table_mem)
        throw std::runtime_error(fmt::format(
            "worker {}: cannot allocate {} MiB of hugepage memory for {} connections "
            "(tables.connections; are enough hugepages reserved?)",
            cfg.index, bytes >> 20, cfg.max_connections));
    _table = std::make_unique<conn_table>(std::span(_table_mem, slots), cfg.max_connections);
    _router = std::make_unique<router>(router_state{*_table, _wrr, *_stats, _nodes, _services});

    _jobs = rte_ring_create(fmt::format("cg_jobs_{}", cfg.index).c_str(), job_ring_size, cfg.socket,
                            RING_F_SP_ENQ | RING_F_SC_DEQ);
    _learned = rte_ring_create_elem(fmt::format("cg_arp_{}", cfg.index).c_str(), sizeof(arp_learned),
                                    learned_ring_size, cfg.socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!_jobs || !_learned) throw std::runtime_error(fmt::format("worker {}: cannot create its rings", cfg.index));
}

worker::~worker() {
    rte_ring_free(_jobs);
    rte_ring_free(_learned);
    rte_free(_table_mem);
}

void worker::run(const std::atomic<bool>& stop) noexcept {
    const unsigned id = _cfg.index;
    const std::uint64_t cycles_per_us = std::max<std::uint64_t>(1, rte_get_tsc_hz() / 1'000'000);
    _pub.reader_start(id);
    while (!stop.load(std::memory_order_relaxed)) {
        const std::uint64_t start = rte_rdtsc();
        const snapshot& snap = *_pub.acquire();
        const std::uint32_t now = clock_ms();
        std::uint32_t got = 0;
        poll(snap, now, got);
        push_learned();
        _router->age(snap, now);
        run_jobs(snap, now);
        if (id == 0 && now - _last_arp_round >= arp_round_ms) ask_node_macs(snap, now);
        flush_all();
        _stats->loops.add();
        _stats->conns.set(_table->size());
        _pub.quiescent(id);
        if (got > 0) {
            _stats->busy_loops.add();
            _stats->loop_time[loop_time_bucket((rte_rdtsc() - start) / cycles_per_us)].add();
        } else if (_cfg.idle_sleep.count() > 0) {
            _pub.offline(id);
            rte_delay_us_sleep(static_cast<unsigned>(_cfg.idle_sleep.count()));
            _pub.online(id);
        }
    }
    _pub.reader_stop(id);
}

void worker::poll(const snapshot& snap, std::uint32_t now, std::uint32_t& got) noexcept {
    rte_mbuf* pkts[512];
    const std::uint16_t burst = std::min<std::uint16_t>(_cfg.burst, 512);
    if (_cfg.rx_ring) {
        const unsigned n = rte_ring_sc_dequeue_burst(_cfg.rx_ring, reinterpret_cast<void**>(pkts), burst, nullptr);
        got += n;
        handle(pkts, static_cast<std::uint16_t>(n), snap, now);
        return;
    }
    for (std::uint16_t port : _cfg.ports) {
        const std::uint16_t n = rte_eth_rx_burst(port, _cfg.queue, pkts, burst);
        for (std::uint16_t i = 0; i < n; ++i) pkts[i]->port = port;  // not every PMD sets it (net_ring)
        got += n;
        handle(pkts, n, snap, now);
    }
}

void worker::handle(rte_mbuf** pkts, std::uint16_t n, const snapshot& snap, std::uint32_t now) noexcept {
    rte_mbuf* dead[512];
    unsigned n_dead = 0;
    for (std::uint16_t off = 0; off < n; off += router::max_burst) {
        const std::uint32_t k = std::min<std::uint32_t>(n - off, router::max_burst);
        std::uint8_t* frames[router::max_burst];
        std::uint32_t lens[router::max_burst];
        std::uint16_t in_ports[router::max_burst];
        verdict v[router::max_burst];
        for (std::uint32_t i = 0; i < k; ++i) {
            rte_mbuf* m = pkts[off + i];
            frames[i] = rte_pktmbuf_mtod(m, std::uint8_t*);
            lens[i] = rte_pktmbuf_data_len(m);
            in_ports[i] = m->port;
        }
        _router->route_burst(snap, frames, lens, in_ports, k, now, v);
        for (std::uint32_t i = 0; i < k; ++i) {
            rte_mbuf* m = pkts[off + i];
            switch (v[i].act) {
            case action::forward: send(v[i].tx_port, m); break;
            case action::reply: send(m->port, m); break;
            case action::drop:
            case action::consume: dead[n_dead++] = m; break;
            }
        }
    }
    if (n_dead) rte_pktmbuf_free_bulk(dead, n_dead);
}

void worker::send(std::uint16_t port, rte_mbuf* m) noexcept {
    m->port = port;  // the dispatch lcore reads it to pick the TX port
    tx_buffer& b = _tx[port];
    b.pkts[b.n++] = m;
    _tx_pending |= std::uint64_t{1} << port;
    if (b.n == router::max_burst) flush(port);
}

void worker::flush(std::uint16_t port) noexcept {
    tx_buffer& b = _tx[port];
    if (b.n == 0) return;
    const unsigned sent = _cfg.tx_ring
                              ? rte_ring_sp_enqueue_burst(_cfg.tx_ring, reinterpret_cast<void**>(b.pkts), b.n, nullptr)
                              : rte_eth_tx_burst(port, _cfg.queue, b.pkts, b.n);
    _stats->tx_pkts.add(sent);
    if (sent < b.n) {
        _stats->drops[static_cast<std::size_t>(drop_reason::tx_full)].add(b.n - sent);
        rte_pktmbuf_free_bulk(b.pkts + sent, b.n - sent);
    }
    b.n = 0;
    _tx_pending &= ~(std::uint64_t{1} << port);
}

void worker::flush_all() noexcept {
    for (std::uint64_t pending = _tx_pending; pending; pending &= pending - 1)
        flush(static_cast<std::uint16_t>(__builtin_ctzll(pending)));
}

void worker::push_learned() noexcept {
    const auto learned = _router->learned();
    if (learned.empty()) return;
    const unsigned n = rte_ring_sp_enqueue_burst_elem(_learned, learned.data(), sizeof(arp_learned),
                                                      static_cast<unsigned>(learned.size()), nullptr);
    _stats->arp_learn_lost.add(learned.size() - n);
    _router->clear_learned();
}

void worker::run_jobs(const snapshot& snap, std::uint32_t now) noexcept {
    void* job = nullptr;
    while (rte_ring_sc_dequeue(_jobs, &job) == 0) run_job(*static_cast<worker_job*>(job), *_router, snap, now);
}

void worker::ask_node_macs(const snapshot& snap, std::uint32_t now) noexcept {
    _last_arp_round = now;
    for (const arp_target& t : snap.arp_targets) {
        const bool due = !t.resolved || now - _arp_asked[t.node] >= _cfg.arp_refresh_ms;
        if (!due || t.port >= snap.ports.size() || snap.ports[t.port].address == 0) continue;
        rte_mbuf* m = rte_pktmbuf_alloc(_cfg.pool);
        if (!m) return;  // out of mbufs: try again next round
        const std::uint32_t len =
            build_arp_request(rte_pktmbuf_mtod(m, std::uint8_t*), snap.ports[t.port].mac, snap.ports[t.port].address, t.ip);
        m->data_len = static_cast<std::uint16_t>(len);
        m->pkt_len = len;
        _arp_asked[t.node] = now;
        _stats->arp_requests.add();
        send(t.port, m);
    }
}

bool worker::post_job(worker_job* job) noexcept { return rte_ring_sp_enqueue(_jobs, job) == 0; }

void worker::take_learned(std::vector<arp_learned>& out) noexcept {
    arp_learned buf[32];
    unsigned n;
    while ((n = rte_ring_sc_dequeue_burst_elem(_learned, buf, sizeof(arp_learned), 32, nullptr)) > 0)
        out.insert(out.end(), buf, buf + n);
}

}  // namespace cg::dp
