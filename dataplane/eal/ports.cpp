#include "dataplane/eal/ports.hpp"

#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <rte_bus_vdev.h>
#include <rte_ethdev.h>

#include "common/log.hpp"
#include "dataplane/eal/eal_args.hpp"

namespace cg::dp {

namespace {

[[noreturn]] void fail(const common::port_cfg& p, const std::string& why) {
    throw std::runtime_error(fmt::format("port {} ({}): {}", p.name, p.device, why));
}

void check(int rc, const common::port_cfg& p, const char* what) {
    if (rc < 0) fail(p, fmt::format("{} failed: {}", what, rte_strerror(-rc)));
}

std::uint16_t find_port(const common::port_cfg& p) {
    const auto dev = parse_device(p.device);
    if (!dev) fail(p, "device is neither a PCI address, a net_* virtual device, nor eth:<name>");
    std::uint16_t id = 0;
    if (rte_eth_dev_get_port_by_name(dev->name.c_str(), &id) == 0) return id;
    // A virtual device EAL was not told about (gatewayd passes them all as
    // --vdev; a program embedding the data plane may not): create it now.
    if (dev->kind == device_kind::vdev) {
        const auto comma = dev->arg.find(',');
        const std::string args = comma == std::string::npos ? "" : dev->arg.substr(comma + 1);
        if (const int rc = rte_vdev_init(dev->name.c_str(), args.c_str()); rc < 0)
            fail(p, fmt::format("cannot create virtual device: {}", rte_strerror(-rc)));
        if (rte_eth_dev_get_port_by_name(dev->name.c_str(), &id) == 0) return id;
    }
    fail(p, fmt::format("no ethdev named {} (for PCI: is the NIC bound to vfio-pci?)", dev->name));
}

void configure(const common::port_cfg& p, std::uint16_t id, std::uint16_t queues, rte_mempool* pool) {
    rte_eth_dev_info info{};
    check(rte_eth_dev_info_get(id, &info), p, "reading device info");
    if (info.max_rx_queues < queues || info.max_tx_queues < queues)
        fail(p, fmt::format("{} workers need {} RX and TX queues, the device has {} and {} "
                            "(net_af_packet: set qpairs={}; or use a dispatch lcore)",
                            queues, queues, info.max_rx_queues, info.max_tx_queues, queues));

    rte_eth_conf conf{};
    if (queues > 1) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf =
            (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
    }
    check(rte_eth_dev_configure(id, queues, queues, &conf), p, "configure");
    std::uint16_t rxd = p.rx_descriptors, txd = p.tx_descriptors;
    check(rte_eth_dev_adjust_nb_rx_tx_desc(id, &rxd, &txd), p, "descriptor count");
    const int socket = rte_eth_dev_socket_id(id);
    for (std::uint16_t q = 0; q < queues; ++q) {
        check(rte_eth_rx_queue_setup(id, q, rxd, socket, nullptr, pool), p, "RX queue setup");
        check(rte_eth_tx_queue_setup(id, q, txd, socket, nullptr), p, "TX queue setup");
    }
    if (p.mac) {
        rte_ether_addr mac;
        std::memcpy(mac.addr_bytes, p.mac->b.data(), 6);
        check(rte_eth_dev_default_mac_addr_set(id, &mac), p, "setting the MAC");
    }
    check(rte_eth_dev_start(id), p, "start");
}

}  // namespace

void start_ports(const common::gateway_cfg& cfg, std::uint16_t queues, rte_mempool* pool,
                 std::vector<port_info>& started) {
    for (const auto& p : cfg.ports) {
        const std::uint16_t id = find_port(p);
        configure(p, id, queues, pool);
        // Mirrored frames are addressed to the nodes' MACs, not the port's.
        if (cfg.mirror && cfg.mirror->port == p.name && rte_eth_promiscuous_enable(id) != 0)
            common::log::warn("port {}: cannot enable promiscuous mode; the mirror port may miss frames", p.name);
        if (common::is_span_port(cfg, p.name) && rte_eth_promiscuous_enable(id) != 0)
            common::log::warn("port {}: cannot enable promiscuous mode; the SPAN port may miss frames", p.name);
        rte_ether_addr mac{};
        rte_eth_macaddr_get(id, &mac);
        port_info info{p.name, p.device, id, {}, p.address};
        std::memcpy(info.mac.b.data(), mac.addr_bytes, 6);
        common::log::info("port {} ({}) is ethdev {}, MAC {}, {} queue(s)", p.name, p.device, id,
                          common::format_mac(info.mac), queues);
        started.push_back(std::move(info));
    }
}

void stop_ports(const std::vector<port_info>& ports) noexcept {
    for (const auto& p : ports) {
        rte_eth_dev_stop(p.id);
        rte_eth_dev_close(p.id);
    }
}

common::api::port_view port_view_of(const port_info& p) {
    common::api::port_view v;
    v.name = p.name;
    v.device = p.device;
    v.mac = p.mac;
    v.address = p.address.value_or(0);
    rte_eth_link link{};
    if (rte_eth_link_get_nowait(p.id, &link) == 0) {
        v.link_up = link.link_status == RTE_ETH_LINK_UP;
        v.speed_mbps = link.link_speed;
    }
    rte_eth_stats s{};
    if (rte_eth_stats_get(p.id, &s) == 0) {
        v.ipackets = s.ipackets;
        v.opackets = s.opackets;
        v.ibytes = s.ibytes;
        v.obytes = s.obytes;
        v.imissed = s.imissed;
        v.ierrors = s.ierrors;
        v.oerrors = s.oerrors;
        v.rx_nombuf = s.rx_nombuf;
    }
    return v;
}

}  // namespace cg::dp
