#include "gateway_harness.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "dataplane/pkt/arp_icmp.hpp"
#include "dataplane/pkt/classify.hpp"

namespace cg::test {

ring_port::ring_port(const std::string& n, unsigned queues, unsigned size) : name(n) {
    for (unsigned q = 0; q < queues; ++q) {
        rx.push_back(rte_ring_create(fmt::format("{}_rx{}", n, q).c_str(), size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ));
        tx.push_back(rte_ring_create(fmt::format("{}_tx{}", n, q).c_str(), size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ));
        if (!rx.back() || !tx.back()) throw std::runtime_error("cannot create test rings");
    }
    const int id_or_err = rte_eth_from_rings(n.c_str(), rx.data(), queues, tx.data(), queues, 0);
    if (id_or_err < 0) throw std::runtime_error("rte_eth_from_rings failed");
    id = static_cast<std::uint16_t>(id_or_err);
}

ring_port::~ring_port() {
    for (auto* r : rx) {
        rte_mbuf* m;
        while (rte_ring_dequeue(r, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
        rte_ring_free(r);
    }
    for (auto* r : tx) {
        rte_mbuf* m;
        while (rte_ring_dequeue(r, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
        rte_ring_free(r);
    }
}

gateway_harness::gateway_harness(const std::string& yaml) {
    auto loaded = common::parse_config(yaml, "test.yaml");
    if (!loaded.ok()) throw std::runtime_error("test config: " + common::format_error(loaded.errors.front()));
    _cfg = loaded.cfg;
    _pool.reset(rte_pktmbuf_pool_create("eal_test_in", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0));
    if (!_pool) throw std::runtime_error("cannot create the test mbuf pool");
    _dp = std::make_unique<dp::eal_dataplane>(_cfg);
    _ctl = std::make_unique<dp::controller>(_cfg, _dp->bindings(), *_dp, dp::controller::options{"", "test"});
    _api = std::make_unique<dp::local_api>(*_ctl);
    _dp->start();
}

gateway_harness::~gateway_harness() {
    _dp->stop();
    _api.reset();
    _ctl.reset();
    _dp.reset();  // closes the ports; the test pool goes last, as its mbufs may sit in them
}

void gateway_harness::receive(ring_port& port, const std::vector<bytes>& frames, unsigned queue) {
    for (const auto& f : frames) {
        rte_mbuf* m = rte_pktmbuf_alloc(_pool.get());
        if (!m) throw std::runtime_error("test pool empty");
        std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(f.size())), f.data(), f.size());
        while (rte_ring_enqueue(port.rx[queue], m) != 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
}

bool is_gratuitous_arp(const bytes& f) {
    dp::pkt_info info;
    if (dp::classify(f.data(), static_cast<std::uint32_t>(f.size()), info) || info.kind != dp::pkt_kind::arp) return false;
    const auto a = dp::read_arp(f.data(), info);
    return a.op == 1 && a.sender_ip == a.target_ip;
}

bool gateway_harness::drain(ring_port& port) {
    bool any = false;
    for (auto* r : port.tx) {
        rte_mbuf* m;
        while (rte_ring_dequeue(r, reinterpret_cast<void**>(&m)) == 0) {
            const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
            bytes f(p, p + rte_pktmbuf_data_len(m));
            rte_pktmbuf_free(m);
            (is_gratuitous_arp(f) ? _garps : _out).push_back(std::move(f));
            any = true;
        }
    }
    return any;
}

namespace {
/// Takes up to `n` frames from the front of `from`.
std::vector<bytes> take(std::vector<bytes>& from, std::size_t n) {
    const auto k = static_cast<std::ptrdiff_t>(std::min(n, from.size()));
    std::vector<bytes> out(std::make_move_iterator(from.begin()), std::make_move_iterator(from.begin() + k));
    from.erase(from.begin(), from.begin() + k);
    return out;
}
}  // namespace

std::vector<bytes> gateway_harness::sent(ring_port& port, std::size_t n, std::chrono::milliseconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (_out.size() < n && std::chrono::steady_clock::now() < deadline)
        if (!drain(port)) std::this_thread::sleep_for(std::chrono::microseconds(200));
    return take(_out, n);
}

std::vector<bytes> gateway_harness::announced(ring_port& port, std::size_t n, std::chrono::milliseconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (_garps.size() < n && std::chrono::steady_clock::now() < deadline)
        if (!drain(port)) std::this_thread::sleep_for(std::chrono::microseconds(200));
    return take(_garps, n);
}

common::mac_addr gateway_harness::port_mac(const std::string& name) const {
    for (const auto& b : _dp->bindings())
        if (b.name == name) return b.mac;
    throw std::runtime_error("no port " + name);
}

std::uint64_t gateway_harness::stat(const std::string& group, const std::string& name) {
    const auto s = _api->expect<common::api::stats_rep>(common::api::show_stats_req{});
    const auto& list = group == "drops" ? s.drops : group == "connections" ? s.connections : s.control;
    for (const auto& c : list)
        if (c.name == name) return c.value;
    throw std::runtime_error("no counter " + group + "." + name);
}

std::uint64_t gateway_harness::drops(const std::string& reason) { return stat("drops", reason); }

}  // namespace cg::test
