#include "traffic_engine.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fcntl.h>
#include <stdexcept>
#include <string>
#include <sys/syscall.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

namespace cg::bench {

namespace {
constexpr unsigned rx_burst_max = 512;
std::size_t idx(pkt_type t) noexcept { return static_cast<std::size_t>(t); }

/// A rate limit may catch up on up to 1 ms of packets (at least a burst):
/// on a shared machine the lcore loses the CPU for milliseconds, and a
/// bucket of one burst would then fall short of the rate asked for.
double bucket_cap(double rate, unsigned burst) noexcept { return std::max<double>(burst, rate * 1e-3); }
}  // namespace

unsigned traffic_engine::token_bucket::take(std::uint64_t now, unsigned want) noexcept {
    if (rate <= 0) return want;
    tokens = std::min(cap, tokens + static_cast<double>(now - last) * per_cycle);
    last = now;
    const auto n = static_cast<unsigned>(std::min<double>(want, std::floor(tokens)));
    tokens -= n;
    return n;
}

traffic_engine::traffic_engine(const pktgen_config& cfg, std::uint16_t port, rte_mempool* pool,
                               std::span<flow_slot> slots, const frame_params& fp)
    : _cfg(cfg), _port(port), _pool(pool), _plan(slots, cfg.traffic_mix), _slots(slots.data()), _tmpl(fp) {
    if (cfg.assume_open) _plan.assume_open();
    for (const auto& n : cfg.nodes) _node_macs.push_back(mac_key(n.mac));
    _r.node_new.assign(cfg.nodes.size(), 0);
    _r.node_pkts.assign(cfg.nodes.size(), 0);
    _r.tsc_hz = rte_get_tsc_hz();
    const double hz = static_cast<double>(_r.tsc_hz);
    _rate = {cfg.warmup_rate, bucket_cap(cfg.warmup_rate, cfg.burst), 0, cfg.warmup_rate / hz, 0};
    _cps = {cfg.cps, bucket_cap(cfg.cps, cfg.burst), 0, cfg.cps / hz, 0};
    _tx_backoff = static_cast<std::uint64_t>(cfg.tx_backoff_ns * hz / 1e9);
    for (const auto& p : cfg.cpu_probes) {
        _probe_fds.push_back(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
        if (_probe_fds.back() < 0) {
            for (int fd : _probe_fds)
                if (fd >= 0) ::close(fd);
            throw std::runtime_error("--cpu-probe " + p + ": cannot open it");
        }
    }
    _probe_fds.push_back(-1);  // this thread's own, opened in run()
    _probe_at_open.resize(_probe_fds.size());
    _r.probe_cpu_ns.resize(_probe_fds.size());
}

traffic_engine::~traffic_engine() {
    for (int fd : _probe_fds)
        if (fd >= 0) ::close(fd);
}

void traffic_engine::read_probes(std::vector<std::int64_t>& out) noexcept {
    out.resize(_probe_fds.size());  // sized before the lcore starts: no allocation here
    for (std::size_t i = 0; i < _probe_fds.size(); ++i) {
        char buf[128];
        const ssize_t n = _probe_fds[i] < 0 ? -1 : ::pread(_probe_fds[i], buf, sizeof buf - 1, 0);
        if (n <= 0) {
            out[i] = -1;
            continue;
        }
        buf[n] = 0;
        out[i] = std::strtoll(buf, nullptr, 10);  // schedstat: "<ns on CPU> <ns waiting> <slices>"
    }
}

int traffic_engine::node_of(std::uint64_t mac) const noexcept {
    for (std::size_t i = 0; i < _node_macs.size(); ++i)
        if (_node_macs[i] == mac) return static_cast<int>(i);
    return -1;
}

void traffic_engine::rx() noexcept {
    // Up to four bursts: the peer must never find our RX ring full because
    // the loop was busy transmitting.
    const unsigned burst = std::min<unsigned>(_cfg.burst, rx_burst_max);
    for (int i = 0; i < 4; ++i)
        if (rx_burst(burst) < burst) break;
}

unsigned traffic_engine::rx_burst(unsigned burst) noexcept {
    rte_mbuf* pkts[rx_burst_max];
    const std::uint16_t n = rte_eth_rx_burst(_port.load(std::memory_order_relaxed), 0, pkts, static_cast<std::uint16_t>(burst));
    if (n == 0) return 0;
    const std::uint64_t now = rte_rdtsc();  // after the packets are ours: the latency ends here
    _live.rx.add(n);
    const bool check_nodes = !_node_macs.empty();
    if (now >= _w0 && now < _w1) _r.rx_arrived_in_window += n;

    // Pass 1: parse, and prefetch each flow's slot so the misses overlap.
    rx_frame f[rx_burst_max];
    rx_status st[rx_burst_max];
    std::uint32_t slot[rx_burst_max];
    std::uint8_t gen[rx_burst_max];
    for (std::uint16_t i = 0; i < n; ++i) {
        st[i] = parse_frame(rte_pktmbuf_mtod(pkts[i], const std::uint8_t*), rte_pktmbuf_data_len(pkts[i]), _cfg.vip,
                            _cfg.dport, f[i]);
        if (st[i] != rx_status::ok) continue;
        const auto sg = slot_of_tuple(f[i].saddr, f[i].sport);
        if (!sg || sg->slot >= _cfg.flows || f[i].tsc > now) {
            st[i] = rx_status::foreign;
            continue;
        }
        slot[i] = sg->slot;
        gen[i] = sg->gen;
        rte_prefetch0(&_slots[sg->slot]);
    }
    // Pass 2: account.
    for (std::uint16_t i = 0; i < n; ++i) {
        if (st[i] == rx_status::foreign) {
            ++_r.rx_foreign;
            continue;
        }
        if (st[i] == rx_status::malformed) {
            ++_r.rx_malformed;
            continue;
        }
        const pkt_type t = type_of_flags(f[i].tcp_flags);
        const std::uint64_t ts = f[i].tsc;
        if (ts >= _w0 && ts < _w1) {
            ++_r.rx_window[idx(t)];
            _r.latency.record(now - ts);
        } else if (ts >= _w1) {
            ++_r.rx_after;
        } else {
            ++_r.rx_warmup[idx(t)];
            if (now >= _w0) ++_r.rx_late;
        }
        if (!check_nodes) continue;
        const int node = node_of(f[i].dst_mac);
        if (node < 0) {
            ++_r.rx_unknown_node;
            continue;
        }
        ++_r.node_pkts[static_cast<std::size_t>(node)];
        switch (rx_check(_slots[slot[i]], gen[i], static_cast<std::uint8_t>(node))) {
        case rx_verdict::new_connection:
            if (t == pkt_type::syn) ++_r.node_new[static_cast<std::size_t>(node)];
            break;
        case rx_verdict::other_node: ++_r.node_mismatch; break;
        case rx_verdict::same_node: break;
        }
    }
    rte_pktmbuf_free_bulk(pkts, n);
    return n;
}

void traffic_engine::send_ops(const pkt_op* ops, unsigned n) noexcept {
    if (n == 0) return;
    rte_mbuf* m[rx_burst_max];
    n = std::min(n, rx_burst_max);
    if (rte_pktmbuf_alloc_bulk(_pool, m, n) != 0) {
        ++_r.alloc_fail;
        return;
    }
    // Counted in the window by the same rule as on reception: the time stamp.
    const std::uint64_t now = rte_rdtsc();
    if (now >= _w1) {
        _r.tx_after += n;
    }
    type_counts& tx = now >= _w0 && now < _w1 ? _r.tx_window : _r.tx_warmup;
    const std::uint16_t size = _tmpl.size();
    for (unsigned i = 0; i < n; ++i) {
        auto* buf = rte_pktmbuf_mtod(m[i], std::uint8_t*);
        const pkt_op& op = ops[i];
        _tmpl.write(buf, tuple_of(op.slot, op.gen), flags_of(op.type), now);
        if (op.type == pkt_type::malformed) make_malformed(buf, _malformed_kind++);
        m[i]->data_len = size;
        m[i]->pkt_len = size;
        if (now < _w1) ++tx[idx(op.type)];
        _pend[_pend_n++] = m[i];
    }
    _live.tx.add(n);
}

unsigned traffic_engine::steady_ops(pkt_op* ops, unsigned n, std::uint64_t now) noexcept {
    unsigned churns = _cfg.cps > 0 ? _cps.take(now, _cfg.burst) : 0;
    unsigned k = 0;
    while (k < n) {
        if (_cfg.malformed > 0) {
            _malformed_acc += _cfg.malformed;
            if (_malformed_acc >= 1) {
                _malformed_acc -= 1;
                ops[k++] = {pkt_type::malformed, 0, 1};
                continue;
            }
        }
        if (_cfg.cps > 0) {
            if (churns > 0 && k + 2 <= n) {
                k += _plan.churn(ops + k);
                --churns;
            } else {
                ops[k++] = _plan.data();
            }
        } else {
            ops[k++] = _plan.next();
        }
    }
    _cps.tokens += churns;  // not used in this burst: keep them
    return k;
}

void traffic_engine::flush(std::uint64_t now) noexcept {
    if (_pend_off == _pend_n || now < _tx_retry_at) return;
    const auto want = static_cast<std::uint16_t>(_pend_n - _pend_off);
    const std::uint16_t sent = rte_eth_tx_burst(_port.load(std::memory_order_relaxed), 0, &_pend[_pend_off], want);
    ++_r.tx_calls;
    if (sent < want) {
        // The peer's ring is full: polling it again at once only bounces its
        // cache lines between the two cores and slows the peer down.
        ++_r.tx_partial;
        _tx_retry_at = now + _tx_backoff;
    }
    _pend_off += sent;
    if (_pend_off == _pend_n) _pend_off = _pend_n = 0;
}

void traffic_engine::run(const std::atomic<bool>& stop) noexcept {
    const std::string self = "/proc/self/task/" + std::to_string(::syscall(SYS_gettid)) + "/schedstat";
    _probe_fds.back() = ::open(self.c_str(), O_RDONLY | O_CLOEXEC);
    const std::uint64_t hz = _r.tsc_hz;
    const auto cycles = [hz](double s) { return static_cast<std::uint64_t>(s * static_cast<double>(hz)); };
    std::uint64_t now = rte_rdtsc();
    std::uint64_t warm_start = now, settle_end = 0, drain_end = 0;
    std::uint32_t warm_left = _cfg.warmup ? _cfg.flows : 0;
    std::uint64_t window_sent = 0;
    _rate.reset(now);
    _phase = phase::warmup;
    pkt_op ops[rx_burst_max + 1];

    auto enter = [&](phase p) {
        _phase = p;
        _live.phase.set(static_cast<std::uint64_t>(p));
    };
    auto open_window = [&] {
        read_probes(_probe_at_open);
        now = rte_rdtsc();
        _w0 = now;
        _w1 = now + cycles(_cfg.duration_s);
        _rate = {_cfg.rate, bucket_cap(_cfg.rate, _cfg.burst), 0, _cfg.rate / static_cast<double>(hz), 0};
        _rate.reset(now);
        _cps.reset(now);
        enter(phase::measure);
    };
    auto start_drain = [&] {
        if (_phase == phase::measure) {
            _w1 = std::min(_w1, now);
            read_probes(_r.probe_cpu_ns);
            for (std::size_t i = 0; i < _r.probe_cpu_ns.size(); ++i)
                _r.probe_cpu_ns[i] = _r.probe_cpu_ns[i] < 0 || _probe_at_open[i] < 0
                                         ? -1
                                         : _r.probe_cpu_ns[i] - _probe_at_open[i];
        }
        drain_end = now + cycles(_cfg.drain_s);
        enter(phase::drain);
    };
    enter(phase::warmup);

    while (_phase != phase::done) {
        rx();
        now = rte_rdtsc();
        if (stop.load(std::memory_order_relaxed) && _phase != phase::drain) start_drain();
        switch (_phase) {
        case phase::warmup:
            if (warm_left == 0) {
                _r.warmup_cycles = now - warm_start;
                settle_end = now + cycles(_cfg.settle_s);
                enter(phase::settle);
            } else if (_pend_n == 0) {
                const unsigned n = _rate.take(now, std::min<std::uint32_t>(_cfg.burst, warm_left));
                for (unsigned i = 0; i < n; ++i) ops[i] = _plan.open();
                send_ops(ops, n);
                warm_left -= n;
                _live.open.set(_plan.open_count());
            }
            break;
        case phase::settle:
            if (now >= settle_end) open_window();
            break;
        case phase::measure:
            if (now >= _w1 || (_cfg.count && window_sent >= _cfg.count)) {
                start_drain();
            } else if (_pend_n == 0) {
                unsigned n = _rate.take(now, _cfg.burst);
                if (_cfg.count) n = static_cast<unsigned>(std::min<std::uint64_t>(n, _cfg.count - window_sent));
                window_sent += n;
                send_ops(ops, steady_ops(ops, n, now));
                _live.open.set(_plan.open_count());
            }
            break;
        case phase::drain:
            if ((now >= drain_end && _pend_n == 0) || now >= drain_end + hz) enter(phase::done);
            break;
        case phase::done: break;
        }
        flush(rte_rdtsc());  // what was just built leaves now, not after the next receive
    }
    if (_pend_n > _pend_off) {
        _r.unsent = _pend_n - _pend_off;
        rte_pktmbuf_free_bulk(&_pend[_pend_off], _pend_n - _pend_off);
        _pend_off = _pend_n = 0;
    }
    if (_w0 != ~std::uint64_t{0}) _r.window_cycles = _w1 - _w0;
    const std::int64_t own = _r.probe_cpu_ns.back();
    _r.gen_cpu_ns = own > 0 ? static_cast<std::uint64_t>(own) : 0;
    _r.probe_cpu_ns.pop_back();
    _r.abandoned = _plan.abandoned();
}

}  // namespace cg::bench
