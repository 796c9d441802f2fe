// Classic pcap files (microsecond time stamps, Ethernet link type): enough
// to feed net_pcap and to read back what it wrote, without libpcap.
#pragma once

#include <string>
#include <vector>

#include "frames.hpp"

namespace cg::test {

void write_pcap(const std::string& path, const std::vector<bytes>& frames);
/// Throws std::runtime_error on a file that is not a pcap file.
std::vector<bytes> read_pcap(const std::string& path);

}  // namespace cg::test
