// The host figures a node agent reports (requirements 4.2), read from the kernel's
// own files each time: nothing is kept but the previous CPU counters that a
// busy share needs. Parsers take the files' text so that tests can feed them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cg::control {

struct cpu_times {
    std::uint64_t busy = 0, total = 0;
};

/// The first field of /proc/loadavg.
std::optional<double> parse_loadavg(std::string_view text);
/// The "cpu " line of /proc/stat: busy = all but idle and iowait.
std::optional<cpu_times> parse_proc_stat(std::string_view text);
/// 1 - MemAvailable / MemTotal from /proc/meminfo.
std::optional<double> parse_meminfo(std::string_view text);
/// Pages of socket buffers ("mem" of TCP and UDP) in /proc/net/sockstat.
std::optional<double> parse_sockstat_pages(std::string_view text);
/// The third number of /proc/sys/net/ipv4/tcp_mem (pages: the pressure limit).
std::optional<double> parse_tcp_mem_limit(std::string_view text);

/// Busy share between two readings, 0..1 (0 when no time passed).
double busy_share(const cpu_times& before, const cpu_times& after);

/// Reads a whole (small) file; nullopt when it cannot.
std::optional<std::string> read_text(const std::string& path);

}  // namespace cg::control
