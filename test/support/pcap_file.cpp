#include "pcap_file.hpp"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace cg::test {

namespace {
struct global_header {
    std::uint32_t magic = 0xa1b2c3d4;
    std::uint16_t major = 2, minor = 4;
    std::int32_t zone = 0;
    std::uint32_t sigfigs = 0, snaplen = 65535, linktype = 1;
};
struct record_header {
    std::uint32_t sec, usec, caplen, len;
};
}  // namespace

void write_pcap(const std::string& path, const std::vector<bytes>& frames) {
    std::ofstream out(path, std::ios::binary);
    const global_header g;
    out.write(reinterpret_cast<const char*>(&g), sizeof g);
    std::uint32_t usec = 0;
    for (const auto& f : frames) {
        const record_header r{1, usec++, static_cast<std::uint32_t>(f.size()), static_cast<std::uint32_t>(f.size())};
        out.write(reinterpret_cast<const char*>(&r), sizeof r);
        out.write(reinterpret_cast<const char*>(f.data()), static_cast<std::streamsize>(f.size()));
    }
    if (!out) throw std::runtime_error("cannot write " + path);
}

std::vector<bytes> read_pcap(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    global_header g;
    const bool read = static_cast<bool>(in.read(reinterpret_cast<char*>(&g), sizeof g));
    // 0xa1b23c4d: nanosecond time stamps, as net_pcap writes them.
    const bool known = g.magic == 0xa1b2c3d4 || g.magic == 0xa1b23c4d;
    if (!read || !known || g.linktype != 1)
        throw std::runtime_error(path + " is not a little-endian Ethernet pcap file");
    std::vector<bytes> frames;
    record_header r;
    while (in.read(reinterpret_cast<char*>(&r), sizeof r)) {
        bytes f(r.caplen);
        if (!in.read(reinterpret_cast<char*>(f.data()), r.caplen)) throw std::runtime_error(path + ": truncated record");
        frames.push_back(std::move(f));
    }
    return frames;
}

}  // namespace cg::test
