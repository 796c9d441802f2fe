// The node agent's /proc parsers (control/nodeagent/host_metrics.cpp).
#include <catch2/catch.hpp>

#include "control/nodeagent/host_metrics.hpp"

using namespace cg::control;

TEST_CASE("/proc parsers", "[control][agent]") {
    CHECK(parse_loadavg("0.52 0.58 0.59 1/189 12345\n") == 0.52);
    CHECK_FALSE(parse_loadavg("garbage"));
    const auto a = parse_proc_stat("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n");
    REQUIRE(a);
    CHECK(a->busy == 150);
    CHECK(a->total == 1000);
    const cpu_times b{a->busy + 30, a->total + 100};
    CHECK(busy_share(*a, b) == Approx(0.3));
    CHECK(busy_share(b, *a) == 0);  // counters went back (a reboot): no share
    CHECK_FALSE(parse_proc_stat("intr 1 2 3\n"));
    CHECK(parse_meminfo("MemTotal:  1000 kB\nMemFree: 10 kB\nMemAvailable:  250 kB\n") == Approx(0.75));
    CHECK_FALSE(parse_meminfo("MemTotal: 0 kB\nMemAvailable: 0 kB\n"));
    CHECK(parse_sockstat_pages("sockets: used 5\nTCP: inuse 3 orphan 0 tw 1 alloc 4 mem 12\nUDP: inuse 1 mem 3\n") == 15);
    CHECK_FALSE(parse_sockstat_pages("sockets: used 5\n"));
    CHECK(parse_tcp_mem_limit("189120\t252162\t378240\n") == 378240);
    CHECK_FALSE(parse_tcp_mem_limit("1 2\n"));
}

TEST_CASE("this machine's own /proc files are read and parse", "[control][agent]") {
    const auto loadavg = read_text("/proc/loadavg");
    REQUIRE(loadavg);
    CHECK(parse_loadavg(*loadavg));
    const auto stat = read_text("/proc/stat");
    REQUIRE(stat);
    CHECK(parse_proc_stat(*stat));
    const auto meminfo = read_text("/proc/meminfo");
    REQUIRE(meminfo);
    CHECK(parse_meminfo(*meminfo));
    CHECK_FALSE(read_text("/proc/clustergate-no-such-file"));
}
