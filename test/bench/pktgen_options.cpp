#include "pktgen_options.hpp"

#include "gen_frame.hpp"

#include <charconv>
#include <cmath>
#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>
#include <fmt/format.h>

namespace po = boost::program_options;

namespace cg::bench {

std::optional<double> parse_count(std::string_view s) {
    if (s.empty()) return std::nullopt;
    double mult = 1;
    switch (s.back()) {
    case 'k': mult = 1e3; break;
    case 'M': mult = 1e6; break;
    case 'G': mult = 1e9; break;
    default: break;
    }
    if (mult != 1) s.remove_suffix(1);
    if (s.empty() || s.front() == '+' || s.front() == '-') return std::nullopt;
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v) || v < 0) return std::nullopt;
    return v * mult;
}

std::optional<node_spec> parse_node(std::string_view s) {
    node_spec n;
    const auto eq = s.find('=');
    const auto mac = common::parse_mac(s.substr(0, eq));
    if (!mac || mac->is_zero()) return std::nullopt;
    n.mac = *mac;
    if (eq != std::string_view::npos) {
        const std::string_view w = s.substr(eq + 1);
        std::uint32_t v = 0;
        const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
        if (w.empty() || ec != std::errc{} || end != w.data() + w.size() || v > 65535) return std::nullopt;
        n.weight = v;
    }
    return n;
}

namespace {

struct bad_arg : std::runtime_error {
    using std::runtime_error::runtime_error;
};

double count_arg(const std::string& name, const std::string& v, double lo, double hi) {
    const auto c = parse_count(v);
    if (!c || *c < lo || *c > hi)
        throw bad_arg(fmt::format("--{}: expected a number {} to {} (k, M, G suffixes allowed), got '{}'", name, lo,
                                  hi, v));
    return *c;
}

double seconds_arg(const std::string& name, double v, double lo, double hi) {
    if (!(v >= lo && v <= hi)) throw bad_arg(fmt::format("--{}: expected {} to {} seconds, got {}", name, lo, hi, v));
    return v;
}

}  // namespace

parse_outcome parse_pktgen_args(int argc, char** argv) {
    parse_outcome out;
    pktgen_config c;
    int split = argc;
    for (int i = 1; i < argc; ++i)
        if (std::string_view(argv[i]) == "--") {
            split = i;
            break;
        }
    for (int i = split + 1; i < argc; ++i) c.eal_extra.emplace_back(argv[i]);

    std::string flows = "1000", cps = "0", rate = "0", warmup_rate = "0", mix_s = "0:1:0:0", dst_mac, src_mac, vip,
                mbufs = "16383", count_s;
    std::vector<std::string> nodes;
    std::uint32_t table_bytes = 0;
    unsigned size = c.size, burst = c.burst, dport = c.dport;
    bool no_warmup = false, assume_open = false, no_huge = false, quiet = false;

    po::options_description desc(
        "Usage: cg-pktgen [options] [-- extra EAL arguments]\n"
        "Sends TCP flows to a cluster address through one port (net_memif by default)\n"
        "and measures what comes back: rates, loss, latency, node consistency and spread.\nOptions");
    // clang-format off
    desc.add_options()
        ("help,h", "this help")
        ("device", po::value(&c.device)->default_value(c.device), "the port: a vdev string (net_memif..., net_ring...)")
        ("backup-device", po::value(&c.backup_device),
         "a second port (vdev string), the backup gateway's: the traffic moves to it when the first port's link "
         "goes down")
        ("file-prefix", po::value(&c.prefix)->default_value(c.prefix), "EAL file prefix")
        ("cpu", po::value(&c.cpu)->default_value(c.cpu), "CPU for both lcores (TX+RX worker and reporting main)")
        ("memory", po::value(&c.memory_mb)->default_value(0), "EAL memory in MB (-m); 0 = as needed")
        ("no-huge", po::bool_switch(&no_huge), "run without hugepages")
        ("mbufs", po::value(&mbufs)->default_value(mbufs), "packet buffers in the pool")
        ("connect-timeout", po::value(&c.connect_timeout_s)->default_value(c.connect_timeout_s),
         "seconds to wait for the port to start and its link to come up (memif: the server)")
        ("dst-mac", po::value(&dst_mac), "destination MAC: the gateway port's (default 02:00:00:00:00:01)")
        ("src-mac", po::value(&src_mac), "source MAC (default: the port's)")
        ("vip", po::value(&vip), "cluster address (default 198.18.0.100)")
        ("dport", po::value(&dport)->default_value(dport), "cluster TCP port")
        ("flows", po::value(&flows)->default_value(flows), "concurrent connections, 1 to 16M")
        ("cps", po::value(&cps)->default_value(cps),
         "new connections per second during the measurement (each closes the oldest: FIN or RST by --mix's "
         "FIN:RST shares, abandoned when both are 0); 0 = none, the stream follows --mix")
        ("mix", po::value(&mix_s)->default_value(mix_s),
         "SYN:data:FIN:RST shares of the measured stream when --cps is 0 (1:0:0:1 = SYN/RST pairs)")
        ("malformed", po::value(&c.malformed)->default_value(0), "fraction 0..1 of packets sent malformed")
        ("size", po::value(&size)->default_value(size), "frame size in bytes without FCS, 62..1514")
        ("burst", po::value(&burst)->default_value(burst), "packets per TX/RX call, 1..512")
        ("rate", po::value(&rate)->default_value(rate), "packets per second; 0 = as fast as the port takes them")
        ("no-warmup", po::bool_switch(&no_warmup), "do not open every flow before measuring")
        ("assume-open", po::bool_switch(&assume_open),
         "no warm-up: every flow is taken as open with generation 1, as a previous run with the same --flows left "
         "them in the gateway (or for a reference point that keeps no state)")
        ("warmup-rate", po::value(&warmup_rate)->default_value(warmup_rate), "SYNs per second in the warm-up; 0 = max")
        ("settle", po::value(&c.settle_s)->default_value(c.settle_s, "0.2"), "seconds of quiet between warm-up and measurement")
        ("duration", po::value(&c.duration_s)->default_value(c.duration_s), "seconds of measurement")
        ("count", po::value(&count_s)->default_value("0"),
         "the measurement also ends after this many packets (0 = no limit): e.g. exactly one SYN per slot")
        ("drain", po::value(&c.drain_s)->default_value(c.drain_s, "0.2"), "seconds of receive-only after the measurement")
        ("tx-backoff", po::value(&c.tx_backoff_ns)->default_value(c.tx_backoff_ns, "500"),
         "nanoseconds to wait before retrying when the port's TX ring is full")
        ("node", po::value(&nodes), "an expected node: MAC[=weight] (repeat); enables the consistency and spread checks")
        ("cpu-probe", po::value(&c.cpu_probes),
         "a /proc/PID/task/TID/schedstat file (repeat): report the CPU time that thread got during the window")
        ("json", po::value(&c.json_path), "also write the JSON result line to this file")
        ("quiet,q", po::bool_switch(&quiet), "no progress lines")
        ("max-loss", po::value(&c.max_loss_pct),
         "exit with status 3 when the loss is above this percentage, nothing was received, or a node check failed "
         "(for tests)")
        ("table-bytes", po::value(&table_bytes),
         "print the bytes of gatewayd's connection table for N connections (conn_table::slots_for) and exit");
    // clang-format on
    try {
        po::variables_map vm;
        po::store(po::parse_command_line(split, argv, desc), vm);
        po::notify(vm);
        if (vm.count("help")) {
            std::cout << desc;
            out.exit_code = 0;
            return out;
        }
        if (vm.count("table-bytes")) {
            out.table_bytes_for = table_bytes;
            return out;
        }
        c.huge = !no_huge;
        c.assume_open = assume_open;
        c.warmup = !no_warmup && !assume_open;
        c.progress = !quiet;
        c.mbufs = static_cast<std::uint32_t>(count_arg("mbufs", mbufs, 1023, 16777215));
        c.flows = static_cast<std::uint32_t>(count_arg("flows", flows, 1, max_flows));
        c.cps = count_arg("cps", cps, 0, 1e9);
        c.rate = count_arg("rate", rate, 0, 1e9);
        c.count = static_cast<std::uint64_t>(count_arg("count", count_s, 0, 1e15));
        c.warmup_rate = count_arg("warmup-rate", warmup_rate, 0, 1e9);
        const auto m = parse_mix(mix_s);
        if (!m) throw bad_arg(fmt::format("--mix: expected S:D:F:R, four numbers >= 0 not all 0, got '{}'", mix_s));
        c.traffic_mix = *m;
        if (!(c.malformed >= 0 && c.malformed <= 1)) throw bad_arg("--malformed: expected a fraction 0..1");
        if (size < min_frame || size > max_frame)
            throw bad_arg(fmt::format("--size: expected {} to {}, got {}", min_frame, max_frame, size));
        c.size = static_cast<std::uint16_t>(size);
        if (burst < 1 || burst > 512) throw bad_arg(fmt::format("--burst: expected 1 to 512, got {}", burst));
        c.burst = static_cast<std::uint16_t>(burst);
        if (dport < 1 || dport > 65535) throw bad_arg("--dport: expected 1 to 65535");
        c.dport = static_cast<std::uint16_t>(dport);
        seconds_arg("duration", c.duration_s, 0.01, 86400);
        seconds_arg("settle", c.settle_s, 0, 60);
        seconds_arg("drain", c.drain_s, 0.001, 60);
        seconds_arg("tx-backoff", c.tx_backoff_ns / 1e9, 0, 0.01);
        seconds_arg("connect-timeout", c.connect_timeout_s, 0.1, 600);
        if (!dst_mac.empty()) {
            const auto mac = common::parse_mac(dst_mac);
            if (!mac) throw bad_arg(fmt::format("--dst-mac: not a MAC: '{}'", dst_mac));
            c.dst_mac = *mac;
        }
        if (!src_mac.empty()) {
            const auto mac = common::parse_mac(src_mac);
            if (!mac) throw bad_arg(fmt::format("--src-mac: not a MAC: '{}'", src_mac));
            c.src_mac = *mac;
        }
        if (!vip.empty()) {
            const auto a = common::parse_ipv4(vip);
            if (!a) throw bad_arg(fmt::format("--vip: not an IPv4 address: '{}'", vip));
            c.vip = *a;
        }
        if (nodes.size() > 254) throw bad_arg("--node: at most 254 nodes");
        for (const auto& n : nodes) {
            const auto spec = parse_node(n);
            if (!spec) throw bad_arg(fmt::format("--node: expected MAC[=weight 0..65535], got '{}'", n));
            c.nodes.push_back(*spec);
        }
    } catch (const std::exception& e) {
        std::ostringstream usage;
        usage << desc;
        fmt::print(stderr, "cg-pktgen: {}\n{}", e.what(), usage.str());
        out.exit_code = 2;
        return out;
    }
    out.cfg = std::move(c);
    return out;
}

}  // namespace cg::bench
