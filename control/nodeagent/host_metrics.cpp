#include "control/nodeagent/host_metrics.hpp"

#include <charconv>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

namespace cg::control {

namespace {

/// The numbers of a line, after its first word.
std::vector<double> numbers_after(std::string_view line, std::string_view word) {
    std::vector<double> out;
    if (!line.starts_with(word)) return out;
    std::istringstream in{std::string(line.substr(word.size()))};
    std::string tok;
    while (in >> tok) {
        double v = 0;
        const auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
        if (ec == std::errc{} && p == tok.data() + tok.size()) out.push_back(v);
        else out.push_back(-1);  // a word, kept in place so that positions hold
    }
    return out;
}

std::optional<std::string_view> line_starting(std::string_view text, std::string_view word) {
    std::size_t at = 0;
    while (at < text.size()) {
        const auto end = text.find('\n', at);
        const auto line = text.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
        if (line.starts_with(word)) return line;
        if (end == std::string_view::npos) break;
        at = end + 1;
    }
    return std::nullopt;
}

/// The number after `key` in a "key value key value" line (sockstat).
std::optional<double> value_after(std::string_view line, std::string_view key) {
    std::istringstream in{std::string(line)};
    std::string tok;
    while (in >> tok) {
        if (tok != key) continue;
        double v = 0;
        if (in >> v) return v;
        return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace

std::optional<double> parse_loadavg(std::string_view text) {
    const auto n = numbers_after(text, "");
    if (n.empty() || n[0] < 0) return std::nullopt;
    return n[0];
}

std::optional<cpu_times> parse_proc_stat(std::string_view text) {
    const auto line = line_starting(text, "cpu ");
    if (!line) return std::nullopt;
    const auto n = numbers_after(*line, "cpu ");
    if (n.size() < 4) return std::nullopt;
    cpu_times t;
    for (std::size_t i = 0; i < n.size() && i < 8; ++i) {  // user nice system idle iowait irq softirq steal
        if (n[i] < 0) return std::nullopt;
        t.total += static_cast<std::uint64_t>(n[i]);
        if (i != 3 && i != 4) t.busy += static_cast<std::uint64_t>(n[i]);
    }
    return t;
}

std::optional<double> parse_meminfo(std::string_view text) {
    const auto total = line_starting(text, "MemTotal:");
    const auto avail = line_starting(text, "MemAvailable:");
    if (!total || !avail) return std::nullopt;
    const auto t = numbers_after(*total, "MemTotal:");
    const auto a = numbers_after(*avail, "MemAvailable:");
    if (t.empty() || a.empty() || t[0] <= 0 || a[0] < 0 || a[0] > t[0]) return std::nullopt;
    return 1.0 - a[0] / t[0];
}

std::optional<double> parse_sockstat_pages(std::string_view text) {
    const auto tcp = line_starting(text, "TCP:");
    if (!tcp) return std::nullopt;
    const auto tcp_pages = value_after(*tcp, "mem");
    if (!tcp_pages) return std::nullopt;
    double pages = *tcp_pages;
    if (const auto udp = line_starting(text, "UDP:"))
        if (const auto u = value_after(*udp, "mem")) pages += *u;
    return pages;
}

std::optional<double> parse_tcp_mem_limit(std::string_view text) {
    const auto n = numbers_after(text, "");
    if (n.size() < 3 || n[2] <= 0) return std::nullopt;
    return n[2];
}

double busy_share(const cpu_times& before, const cpu_times& after) {
    if (after.total <= before.total || after.busy < before.busy) return 0;
    const double share = static_cast<double>(after.busy - before.busy) / static_cast<double>(after.total - before.total);
    return share > 1 ? 1 : share;
}

std::optional<std::string> read_text(const std::string& path) {
    std::ifstream f(path);
    if (!f) return std::nullopt;
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

}  // namespace cg::control
