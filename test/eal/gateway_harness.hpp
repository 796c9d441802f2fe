// A gatewayd data plane inside the test process: config from YAML text,
// the real eal_dataplane on its lcores, the controller behind a local API,
// and ring ports the test feeds and drains.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "common/config_load.hpp"
#include "dataplane/ctl/controller.hpp"
#include "dataplane/ctl/local_api.hpp"
#include "dataplane/eal/eal_dataplane.hpp"
#include "support/frames.hpp"

namespace cg::test {

/// An ethdev made of rings: the test enqueues on `rx` what the port
/// receives and dequeues from `tx` what the port sends.
struct ring_port {
    std::string name;
    std::vector<rte_ring*> rx, tx;
    std::uint16_t id = 0;

    /// `size`: of each ring (a power of two; it holds size - 1 frames).
    ring_port(const std::string& n, unsigned queues, unsigned size = 4096);
    ~ring_port();
};

/// A gratuitous ARP: a request whose sender and target address are one.
bool is_gratuitous_arp(const bytes& f);

class gateway_harness {
public:
    explicit gateway_harness(const std::string& yaml);
    ~gateway_harness();

    /// Puts frames on RX ring `queue` of `port`.
    void receive(ring_port& port, const std::vector<bytes>& frames, unsigned queue = 0);
    /// Takes `n` frames from the TX rings of `port`, waiting up to `wait`;
    /// returns what came (fewer on timeout). The gateway's gratuitous ARPs
    /// (it announces its addresses when it starts active) are set aside for
    /// announced(), so that tests see the frames their input caused.
    std::vector<bytes> sent(ring_port& port, std::size_t n, std::chrono::milliseconds wait = std::chrono::seconds(5));
    /// The gratuitous ARPs set aside so far, waiting up to `wait` for `n`.
    std::vector<bytes> announced(ring_port& port, std::size_t n, std::chrono::milliseconds wait = std::chrono::seconds(5));

    common::api::api& api() { return *_api; }
    dp::controller& controller() { return *_ctl; }
    dp::eal_dataplane& dataplane() { return *_dp; }
    common::mac_addr port_mac(const std::string& name) const;
    std::uint64_t drops(const std::string& reason);
    std::uint64_t stat(const std::string& group, const std::string& name);

private:
    struct pool_free {
        void operator()(rte_mempool* p) const noexcept { rte_mempool_free(p); }
    };
    /// Moves what `port` sent into _out and _garps; true if anything came.
    bool drain(ring_port& port);

    std::vector<bytes> _out, _garps;  ///< taken from the TX rings, not yet returned
    common::gateway_cfg _cfg;
    std::unique_ptr<rte_mempool, pool_free> _pool;  ///< frames the test feeds in
    std::unique_ptr<dp::eal_dataplane> _dp;
    std::unique_ptr<dp::controller> _ctl;
    std::unique_ptr<dp::local_api> _api;
};

}  // namespace cg::test
