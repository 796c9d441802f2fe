// Console area "connection files": a gateway's connection tables saved to a
// file with bulk dumps, and a file's connections put into a gateway with
// bulk inserts (the same requests controld uses after a restart or a
// takeover; common/conn_file.hpp has the format). Each says how long its
// requests took, so that the bulk path can be timed from the console.
#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>

#include "command.hpp"
#include "common/conn_file.hpp"

namespace cg::cli {

namespace api = common::api;
using clock_type = std::chrono::steady_clock;

namespace {

double ms_since(clock_type::time_point t0) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

std::string rate(std::size_t n, double ms) {
    return ms > 0 ? fmt::format("{:.2f} M/s", n / ms / 1000) : "-";
}

void cmd_save(const parsed& p, context& ctx) {
    const std::string& path = p.args.at(0);
    std::vector<api::conn_record> all;
    std::uint16_t workers = 1;
    std::string per_worker;
    const auto t0 = clock_type::now();
    for (std::uint16_t w = 0; w < workers; ++w) {
        const auto tw = clock_type::now();
        const std::size_t before = all.size();
        for (std::uint32_t cursor = 0;;) {
            const auto rep = ctx.api.expect<api::dump_conns_rep>(api::dump_conns_req{w, cursor, api::max_bulk_conns});
            workers = rep.workers;
            all.insert(all.end(), rep.conns.begin(), rep.conns.end());
            if (rep.done) break;
            cursor = rep.next_cursor;
        }
        const double ms = ms_since(tw);
        per_worker += fmt::format("  worker {}: {} in {:.1f} ms ({})\n", w, all.size() - before, ms, rate(all.size() - before, ms));
    }
    const double dump_ms = ms_since(t0);
    const std::vector<std::uint8_t> bytes = common::encode_conn_file(all);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw cli_error(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
    ctx.out += fmt::format("saved {} connections of {} worker(s) to {} ({} bytes); the dumps took {:.1f} ms ({})\n",
                           all.size(), workers, path, bytes.size(), dump_ms, rate(all.size(), dump_ms));
    ctx.out += per_worker;
}

void cmd_load(const parsed& p, context& ctx) {
    const std::string& path = p.args.at(0);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw cli_error(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
    const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
    auto decoded = common::decode_conn_file(bytes);
    if (const auto* why = std::get_if<std::string>(&decoded)) throw cli_error(fmt::format("{}: {}", path, *why));
    const auto& conns = std::get<std::vector<api::conn_record>>(decoded);
    api::insert_conns_rep sum;
    api::insert_conns_req req;
    req.replace = has_flag(p, "replace");
    const auto t0 = clock_type::now();
    for (std::size_t at = 0; at < conns.size(); at += api::max_bulk_conns) {
        const auto end = conns.begin() + static_cast<std::ptrdiff_t>(std::min(conns.size(), at + api::max_bulk_conns));
        req.conns.assign(conns.begin() + static_cast<std::ptrdiff_t>(at), end);
        sum += ctx.api.expect<api::insert_conns_rep>(req);
    }
    const double ms = ms_since(t0);
    ctx.out += fmt::format(
        "loaded {} connections from {} in {:.1f} ms ({}): {} inserted, {} replaced, {} kept, {} no cluster port, "
        "{} no node, {} table full, {} bad\n",
        conns.size(), path, ms, rate(conns.size(), ms), sum.inserted, sum.replaced, sum.kept, sum.no_service,
        sum.no_node, sum.full, sum.bad);
}

}  // namespace

std::vector<command> conn_file_commands() {
    return {
        {{"save", "connections"}, {{"file", "", "where to write the table (overwritten)"}}, {},
         "Writes every worker's connection entries to a file, by bulk dumps; says how long they took.", cmd_save},
        {{"load", "connections"}, {{"file", "", "a file written by save connections"}},
         {{"replace", "", "an entry that exists takes the file's node and state; default: kept as it is"}},
         "Puts a file's connections into the tables, by bulk inserts, each toward its node in its cluster port.",
         cmd_load},
    };
}

}  // namespace cg::cli
