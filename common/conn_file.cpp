#include "conn_file.hpp"

#include <fmt/format.h>

#include "crc32c.hpp"
#include "wire_codec.hpp"

namespace cg::common {

namespace {

void put_le(std::vector<std::uint8_t>& b, std::size_t at, std::uint64_t v, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::uint32_t get_le(std::span<const std::uint8_t> b, std::size_t at, std::size_t n) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint32_t(b[at + i]) << (8 * i);
    return v;
}

}  // namespace

std::vector<std::uint8_t> encode_conn_file(std::span<const api::conn_record> conns) {
    std::vector<std::uint8_t> out(conn_file_header, 0);
    out.reserve(conn_file_header + conns.size() * conn_file_record);
    wire::writer w(out);
    for (const api::conn_record& c : conns) w.write(c);
    put_le(out, 0, conn_file_magic, 4);
    put_le(out, 4, conn_file_version, 2);
    put_le(out, 8, conns.size(), 4);
    put_le(out, 12, crc32c(std::span(out).subspan(conn_file_header)), 4);
    return out;
}

std::variant<std::vector<api::conn_record>, std::string> decode_conn_file(std::span<const std::uint8_t> file) {
    if (file.size() < conn_file_header)
        return fmt::format("torn: {} bytes, not even the {}-byte header", file.size(), conn_file_header);
    if (get_le(file, 0, 4) != conn_file_magic) return std::string("not a connection table file (no CGCT magic)");
    if (const std::uint32_t v = get_le(file, 4, 2); v != conn_file_version)
        return fmt::format("version {}: this build reads version {}", v, conn_file_version);
    if (get_le(file, 6, 2) != 0) return std::string("reserved header bytes are not 0");
    const std::uint64_t count = get_le(file, 8, 4);
    const std::uint64_t want = conn_file_header + count * conn_file_record;
    if (file.size() != want)
        return fmt::format("{}: {} of the {} bytes its {} records take", file.size() < want ? "torn" : "trailing bytes",
                           file.size(), want, count);
    const auto records = file.subspan(conn_file_header);
    if (const std::uint32_t stored = get_le(file, 12, 4), computed = crc32c(records); stored != computed)
        return fmt::format("checksum mismatch (stored {:08x}, computed {:08x})", stored, computed);
    std::vector<api::conn_record> conns(count);
    wire::reader r(records);
    for (api::conn_record& c : conns) r.read(c);
    if (!r.ok()) return fmt::format("a bad record: {}", r.error());
    for (std::size_t i = 0; i < conns.size(); ++i)
        if (conns[i].state != 1 && conns[i].state != 2)
            return fmt::format("record {}: state {} is neither 1 (ACTIVE) nor 2 (FIN)", i, conns[i].state);
    return conns;
}

}  // namespace cg::common
