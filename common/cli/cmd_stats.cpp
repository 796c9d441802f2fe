// Console area "statistics" (requirements 3.3): NIC, lcore, drop, connection and
// control counters, and what the gateway says about itself.
//
// Counters are absolute (never reset, requirements 3.3); `show stats` adds the rate
// per second since the previous `show stats` of this process, measured on
// the gateway's own uptime so that a slow console does not skew it.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>

#include "command.hpp"
#include "common/view_fields.hpp"
#include "table.hpp"

namespace cg::cli {

namespace api = common::api;
using al = table::align;

namespace {

/// Rates since the previous reading of the same counter. Thread-safety:
/// none; one console thread per process reads stats.
class rate_tracker {
public:
    explicit rate_tracker(std::uint64_t uptime_ms) : _now(uptime_ms) {}

    /// Per-second rate of counter `key`, "-" on its first reading or after
    /// the gateway restarted (counters or uptime went back).
    std::string cell(const std::string& key, std::uint64_t value) {
        auto [it, first] = previous().try_emplace(key, sample{value, _now});
        const sample before = it->second;
        it->second = {value, _now};
        if (first || _now <= before.uptime_ms || value < before.value) return "-";
        return std::to_string((value - before.value) * 1000 / (_now - before.uptime_ms));
    }

private:
    struct sample {
        std::uint64_t value, uptime_ms;
    };
    static std::map<std::string, sample>& previous() {
        static std::map<std::string, sample> m;
        return m;
    }
    std::uint64_t _now;
};

std::string link_cell(const api::port_view& p) {
    return p.link_up ? fmt::format("up {}Mb/s", p.speed_mbps) : "down";
}

std::string busy_cell(const api::lcore_view& l) {
    if (l.loops == 0) return "-";
    return fmt::format("{:.1f}", 100.0 * static_cast<double>(l.busy_loops) / static_cast<double>(l.loops));
}

std::string str(std::uint64_t v) { return std::to_string(v); }

/// NIC counters; with `rates`, packet rates next to the packet counts.
void render_ports(const std::vector<api::port_view>& ports, std::string& out, rate_tracker* rates) {
    // Packet counts get a rate column beside them.
    const auto rated = [](std::string_view name) { return name == "rx_packets" || name == "tx_packets"; };
    std::vector<table::column> cols{{"port"}, {"device"}, {"link"}};
    for (const auto& f : api::port_fields) {
        cols.push_back({std::string(f.heading), al::right});
        if (rates && rated(f.name)) cols.push_back({f.name == "rx_packets" ? "rx/s" : "tx/s", al::right});
    }
    table t(std::move(cols));
    for (const api::port_view& p : ports) {
        std::vector<std::string> row{p.name, p.device, link_cell(p)};
        for (const auto& f : api::port_fields) {
            row.push_back(str(f.get(p)));
            if (rates && rated(f.name)) row.push_back(rates->cell(fmt::format("port/{}/{}", p.name, f.name), f.get(p)));
        }
        t.add_row(std::move(row));
    }
    t.render(out, "  ");
}

void render_lcores(const std::vector<api::lcore_view>& lcores, std::string& out, rate_tracker* rates) {
    std::vector<table::column> cols{{"lcore", al::right}, {"role"}};
    for (const auto& f : api::lcore_fields) {
        if (f.heading.empty()) continue;
        cols.push_back({std::string(f.heading), al::right});
        if (rates && f.name == "rx") cols.push_back({"rx/s", al::right});
    }
    cols.push_back({"busy%", al::right});
    cols.push_back({"jobs"});
    table t(std::move(cols));
    for (const api::lcore_view& l : lcores) {
        std::vector<std::string> row{str(l.lcore), l.role};
        for (const auto& f : api::lcore_fields) {
            if (f.heading.empty()) continue;
            row.push_back(str(f.get(l)));
            if (rates && f.name == "rx") row.push_back(rates->cell(fmt::format("lcore/{}/rx", l.lcore), l.rx_pkts));
        }
        row.push_back(busy_cell(l));
        row.push_back(fmt::format("{}", fmt::join(l.jobs, ",")));
        t.add_row(std::move(row));
    }
    t.render(out, "  ");
}

/// "64-128us" for bucket 7 of lcore_view::loop_time.
std::string loop_bucket_label(std::size_t b, std::size_t buckets) {
    if (b == 0) return "<1us";
    const std::uint64_t lo = std::uint64_t{1} << (b - 1);
    if (b + 1 == buckets) return fmt::format(">={}us", lo);
    return fmt::format("{}-{}us", lo, lo * 2);
}

/// One line per lcore with the busy poll iterations by duration (non-zero
/// buckets only): where a stall of the packet path shows.
void render_loop_times(const std::vector<api::lcore_view>& lcores, std::string& out) {
    out += "busy loop durations:\n";
    for (const api::lcore_view& l : lcores) {
        std::string line;
        for (std::size_t b = 0; b < l.loop_time.size(); ++b)
            if (l.loop_time[b] != 0)
                line += fmt::format("{}{} {}", line.empty() ? "" : ", ", loop_bucket_label(b, l.loop_time.size()),
                                    l.loop_time[b]);
        if (!line.empty()) out += fmt::format("  {} {}: {}\n", l.lcore, l.role, line);
    }
}

// ---- actions -------------------------------------------------------------

api::stats_rep get_stats(context& ctx) { return ctx.api.expect<api::stats_rep>(api::show_stats_req{}); }

void show_stats(context& ctx) {
    const auto s = get_stats(ctx);
    rate_tracker rates(s.uptime_ms);
    ctx.out += fmt::format("uptime {}\nports:\n", format_ms(s.uptime_ms / 1000 * 1000));
    render_ports(s.ports, ctx.out, &rates);
    ctx.out += "lcores:\n";
    render_lcores(s.lcores, ctx.out, &rates);
    ctx.out += "drops (non-zero; all: show drops):\n";
    render_counts(s.drops, ctx.out, true, true);
    ctx.out += "connection events:\n";
    render_counts(s.connections, ctx.out, false, false);
    ctx.out += "control:\n";
    render_counts(s.control, ctx.out, false, false);
}

void show_drops(context& ctx) { render_counts(get_stats(ctx).drops, ctx.out, false, true); }

void show_ports(context& ctx) { render_ports(get_stats(ctx).ports, ctx.out, nullptr); }

void show_lcores(context& ctx) {
    const auto s = get_stats(ctx);
    render_lcores(s.lcores, ctx.out, nullptr);
    render_loop_times(s.lcores, ctx.out);
}

void show_info(context& ctx) {
    const auto h = ctx.api.expect<api::hello_rep>(api::hello_req{"console"});
    table about({{""}, {""}});
    about.add_row({"gateway", h.gateway});
    about.add_row({"software", h.software});
    about.add_row({"protocol", str(h.version)});
    about.add_row({"uptime", format_ms(h.uptime_ms / 1000 * 1000)});
    about.add_row({"role", h.role});
    about.add_row({"pid", str(h.pid)});
    about.render(ctx.out);
    ctx.out += "ports:\n";
    table ports({{"port"}, {"device"}, {"mac"}, {"address"}, {"link"}});
    for (const api::port_view& p : h.ports) {
        ports.add_row({p.name, p.device, common::format_mac(p.mac), common::format_ipv4(p.address), link_cell(p)});
    }
    ports.render(ctx.out, "  ");
    ctx.out += "lcores:\n";
    table lcores({{"lcore", al::right}, {"role"}});
    for (const api::lcore_view& l : h.lcores) lcores.add_row({str(l.lcore), l.role});
    lcores.render(ctx.out, "  ");
}

// ---- commands ------------------------------------------------------------

void cmd_show_stats(const parsed&, context& ctx) { show_stats(ctx); }
void cmd_show_drops(const parsed&, context& ctx) { show_drops(ctx); }
void cmd_show_ports(const parsed&, context& ctx) { show_ports(ctx); }
void cmd_show_lcores(const parsed&, context& ctx) { show_lcores(ctx); }
void cmd_show_info(const parsed&, context& ctx) { show_info(ctx); }

}  // namespace

std::vector<command> stats_commands() {
    return {
        {{"show", "stats"}, {}, {},
         "Ports, lcores (busy% = busy loops / loops), non-zero drops, connection and control counters; "
         "rates since the previous show stats.",
         cmd_show_stats},
        {{"show", "drops"}, {}, {}, "Drops per reason, zeros included.", cmd_show_drops},
        {{"show", "ports"}, {}, {}, "NIC counters and link of each port.", cmd_show_ports},
        {{"show", "lcores"}, {}, {}, "Packets, drops, connections and busy% of each lcore, and how long its busy loops took.", cmd_show_lcores},
        {{"show", "info"}, {}, {}, "Gateway name, software version, uptime, role, ports and lcores.", cmd_show_info},
    };
}

}  // namespace cg::cli
