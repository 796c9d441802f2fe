// From a port's device string to the ethdev it names, and from the
// configuration to gatewayd's EAL command line (dataplane/eal/eal_args.cpp).
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "dataplane/eal/eal_args.hpp"

using namespace cg;
using namespace cg::dp;
using strings = std::vector<std::string>;

namespace {

common::port_cfg port(std::string name, std::string device) {
    common::port_cfg p;
    p.name = std::move(name);
    p.device = std::move(device);
    return p;
}

/// parse_device(device) must be a device of `kind` named `name`, handed to EAL as `arg`.
void check_device(const std::string& device, device_kind kind, const std::string& name, const std::string& arg) {
    INFO("device " << device);
    const auto d = parse_device(device);
    REQUIRE(d);
    CHECK(d->kind == kind);
    CHECK(d->name == name);
    CHECK(d->arg == arg);
}

}  // namespace

TEST_CASE("a PCI address names its device with the domain, given or not", "[eal]") {
    check_device("0000:3b:00.1", device_kind::pci, "0000:3b:00.1", "0000:3b:00.1");
    check_device("0001:af:1f.7", device_kind::pci, "0001:af:1f.7", "0001:af:1f.7");
    check_device("03:00.0", device_kind::pci, "0000:03:00.0", "03:00.0");  // domain 0; EAL gets it as written
    check_device("0000:AF:00.0", device_kind::pci, "0000:AF:00.0", "0000:AF:00.0");  // hex digits in either case
}

TEST_CASE("a PCI address with devargs keeps them for EAL, not in the name", "[eal]") {
    check_device("0000:3b:00.0,txq_inline_max=128,rxq_cqe_comp_en=0", device_kind::pci, "0000:3b:00.0",
                 "0000:3b:00.0,txq_inline_max=128,rxq_cqe_comp_en=0");
    check_device("3b:00.0,rx_vec_en=0", device_kind::pci, "0000:3b:00.0", "3b:00.0,rx_vec_en=0");
}

TEST_CASE("net_* strings are virtual devices named by their first word", "[eal]") {
    check_device("net_af_packet0,iface=veth-gw,qpairs=1", device_kind::vdev, "net_af_packet0",
                 "net_af_packet0,iface=veth-gw,qpairs=1");
    for (const std::string plain : {"net_null0", "net_ring_a", "net_memif", "net_pcap3"})
        check_device(plain, device_kind::vdev, plain, plain);
}

TEST_CASE("eth:NAME is an ethdev that already exists, passed to EAL as nothing", "[eal]") {
    check_device("eth:ring_port0", device_kind::existing, "ring_port0", "");
}

TEST_CASE("anything else is not a device", "[eal]") {
    for (const std::string bad : {"", "eth:", "eth0", "enp59s0f0", "net_", "net_null0 ", "NET_null0", "null0",
                                  "crypto_aesni_mb0", "03:00", "03:00.8", "3:00.0", "003:00.0", "00000:03:00.0",
                                  "0000:03:00.0x", "x0000:03:00.0", "0000-03-00.0", "gg:00.0", " 03:00.0"}) {
        INFO("device '" << bad << "'");
        CHECK_FALSE(parse_device(bad));
    }
}

TEST_CASE("the EAL command line: lcores, memory, one argument per device, the rest last", "[eal]") {
    common::gateway_cfg c;
    c.name = "edge";
    c.lcores.main = 0;
    c.lcores.workers = {2, 3};
    c.lcores.dispatch = 1;
    c.eal.huge = false;
    c.eal.memory_mb = 256;
    c.eal.args = {"--log-level=lib.eal:8"};
    c.ports = {port("wan", "0000:3b:00.0,txq_inline_max=128"), port("lan", "net_af_packet0,iface=veth0"),
               port("test", "eth:ring0"), port("lan2", "3b:00.1")};

    CHECK(eal_args(c, {"--in-memory"}) ==
          strings{"gatewayd", "-l", "0,2,3,1", "--main-lcore", "0", "--file-prefix", "cg-edge", "--no-huge", "-m",
                  "256", "-a", "0000:3b:00.0,txq_inline_max=128", "--vdev=net_af_packet0,iface=veth0", "-a",
                  "3b:00.1", "--log-level=lib.eal:8", "--in-memory"});
}

TEST_CASE("without PCI ports EAL is kept off the PCI bus; defaults add no memory flags", "[eal]") {
    common::gateway_cfg c;
    c.name = "gw";
    c.lcores.main = 4;
    c.lcores.workers = {5};
    c.ports = {port("lan", "net_null0")};
    CHECK(eal_args(c) ==
          strings{"gatewayd", "-l", "4,5", "--main-lcore", "4", "--file-prefix", "cg-gw", "--vdev=net_null0", "--no-pci"});

    c.ports = {port("lan", "eth:ring0")};  // an existing ethdev is not a PCI device either
    CHECK(eal_args(c) == strings{"gatewayd", "-l", "4,5", "--main-lcore", "4", "--file-prefix", "cg-gw", "--no-pci"});
}

TEST_CASE("mirror parser lcores of their own are EAL lcores too; a worker's is there already", "[eal]") {
    cg::common::gateway_cfg c;
    c.name = "gw";
    c.lcores.main = 0;
    c.lcores.workers = {1};
    c.ports = {port("lan", "eth:ring0")};
    c.mirror_parser = cg::common::mirror_parser_cfg{};
    c.mirror_parser->lcores = {1, 3, 2};
    CHECK(eal_args(c) == strings{"gatewayd", "-l", "0,1,3,2", "--main-lcore", "0", "--file-prefix", "cg-gw", "--no-pci"});
}

TEST_CASE("configured EAL arguments, then the caller's, come after everything generated", "[eal]") {
    common::gateway_cfg c;
    c.lcores.workers = {1};
    c.ports = {port("lan", "net_ring0")};
    c.eal.args = {"--file-prefix", "mine", "-m", "64"};
    const strings extra = {"--file-prefix", "test-7", "--no-telemetry"};
    const auto a = eal_args(c, extra);
    REQUIRE(a.size() >= c.eal.args.size() + extra.size());
    const strings tail(a.end() - static_cast<std::ptrdiff_t>(c.eal.args.size() + extra.size()), a.end());
    CHECK(tail == strings{"--file-prefix", "mine", "-m", "64", "--file-prefix", "test-7", "--no-telemetry"});
    // What they override is still there before them: EAL takes the last one.
    CHECK(a[0] == "gatewayd");
    CHECK(std::count(a.begin(), a.end(), "--file-prefix") == 3);
}
