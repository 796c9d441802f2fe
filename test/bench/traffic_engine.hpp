// The generator's data path: one lcore that transmits and receives on one
// port, through the phases warm-up (open every flow), settle, measurement
// window, drain. Everything it measures is in `results`, read by the main
// lcore after the engine stopped; `live` is read while it runs.
//
// Ownership: the engine's lcore writes everything; the main lcore reads
// `live` (relaxed atomics) at any time and `results` only after
// rte_eal_wait_lcore(). Hot path: no allocation, no logging.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "flow_plan.hpp"
#include "gen_frame.hpp"
#include "latency_hist.hpp"
#include "pktgen_options.hpp"

struct rte_mempool;
struct rte_mbuf;

namespace cg::bench {

/// A single-writer counter that another thread may read.
struct counter {
    std::uint64_t v = 0;
    void add(std::uint64_t n = 1) noexcept { __atomic_store_n(&v, v + n, __ATOMIC_RELAXED); }
    void set(std::uint64_t n) noexcept { __atomic_store_n(&v, n, __ATOMIC_RELAXED); }
    std::uint64_t read() const noexcept { return __atomic_load_n(&v, __ATOMIC_RELAXED); }
};

enum class phase : std::uint8_t { warmup, settle, measure, drain, done };
inline constexpr std::array<const char*, 5> phase_names = {"warmup", "settle", "measure", "drain", "done"};

struct live_counters {
    counter tx, rx, phase, open;
};

using type_counts = std::array<std::uint64_t, pkt_type_count>;

struct results {
    // Transmitted, by when they were sent (their time stamp).
    type_counts tx_warmup{}, tx_window{};
    // Received, by when they were sent (their time stamp): the window's
    // packets are compared with tx_window for loss.
    type_counts rx_warmup{}, rx_window{};
    std::uint64_t rx_arrived_in_window = 0;  ///< received while the window was open
    std::uint64_t tx_after = 0, rx_after = 0;  ///< stamped after the window closed (its last burst): not counted
    std::uint64_t rx_late = 0;               ///< sent before the window opened, received in it or after
    std::uint64_t rx_foreign = 0;            ///< not a generator frame
    std::uint64_t rx_malformed = 0;          ///< a malformed frame came back
    std::uint64_t rx_unknown_node = 0;       ///< destination MAC not among the nodes
    std::uint64_t node_mismatch = 0;         ///< packets of a connection that left towards another node
    std::vector<std::uint64_t> node_new;     ///< new connections (first packet a SYN) per node
    std::vector<std::uint64_t> node_pkts;    ///< packets per node
    latency_hist latency;                    ///< TSC cycles, the window's packets
    std::uint64_t tx_calls = 0, tx_partial = 0;  ///< TX calls, and those the port did not take whole (backpressure)
    std::uint64_t alloc_fail = 0;
    std::uint64_t unsent = 0;                ///< built but never taken by the port (stopped early)
    std::uint64_t abandoned = 0;             ///< connections reopened without FIN or RST
    std::uint64_t warmup_cycles = 0, window_cycles = 0;
    std::uint64_t tsc_hz = 0;
    std::uint64_t gen_cpu_ns = 0;            ///< CPU time the engine's own thread got in the window
    std::vector<std::int64_t> probe_cpu_ns;  ///< by --cpu-probe; -1 when a file could not be read
};

class traffic_engine {
public:
    /// Throws std::runtime_error when a --cpu-probe file cannot be opened.
    traffic_engine(const pktgen_config& cfg, std::uint16_t port, rte_mempool* pool, std::span<flow_slot> slots,
                   const frame_params& fp);
    ~traffic_engine();
    traffic_engine(const traffic_engine&) = delete;
    traffic_engine& operator=(const traffic_engine&) = delete;

    /// Runs every phase to the end, or until `stop` is set (then drains).
    /// Called from: the traffic lcore.
    void run(const std::atomic<bool>& stop) noexcept;

    const results& result() const noexcept { return _r; }
    /// Sends and receives on `port` from the next loop turn on (the frames
    /// queued for the old port go to the new one). Called from: any thread.
    void move_to(std::uint16_t port) noexcept { _port.store(port, std::memory_order_relaxed); }
    live_counters& live() noexcept { return _live; }

private:
    struct token_bucket {
        double rate = 0, cap = 0, tokens = 0, per_cycle = 0;
        std::uint64_t last = 0;
        void reset(std::uint64_t now) noexcept {
            last = now;
            tokens = 0;
        }
        /// Up to `want`, as many as the rate allows now; `want` when unlimited.
        unsigned take(std::uint64_t now, unsigned want) noexcept;
    };

    void rx() noexcept;
    unsigned rx_burst(unsigned burst) noexcept;
    void send_ops(const pkt_op* ops, unsigned n) noexcept;
    unsigned steady_ops(pkt_op* ops, unsigned n, std::uint64_t now) noexcept;
    void flush(std::uint64_t now) noexcept;
    int node_of(std::uint64_t mac) const noexcept;
    /// Reads the CPU times of the probes (and of this thread) into `out`.
    void read_probes(std::vector<std::int64_t>& out) noexcept;

    const pktgen_config& _cfg;
    std::atomic<std::uint16_t> _port;
    rte_mempool* _pool;
    flow_plan _plan;
    flow_slot* _slots;
    frame_template _tmpl;
    std::vector<std::uint64_t> _node_macs;
    token_bucket _rate, _cps;
    double _malformed_acc = 0;
    unsigned _malformed_kind = 0;
    phase _phase = phase::warmup;
    std::uint64_t _w0 = ~std::uint64_t{0}, _w1 = ~std::uint64_t{0};  ///< window, TSC
    std::array<rte_mbuf*, 1024> _pend{};
    unsigned _pend_n = 0, _pend_off = 0;
    std::uint64_t _tx_backoff = 0;   ///< cycles to wait after the port refused packets
    std::uint64_t _tx_retry_at = 0;
    std::vector<int> _probe_fds;  ///< --cpu-probe files, then this thread's own schedstat (opened on the lcore)
    std::vector<std::int64_t> _probe_at_open;
    results _r;
    live_counters _live;
};

}  // namespace cg::bench
