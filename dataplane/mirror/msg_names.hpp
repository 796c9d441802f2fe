// Names of what an app_message says, for listings: the offline reader's
// JSON (docs/mirror-json.md), `show mirror`, tests that compare with
// tshark. The names are the RFCs' and [MS-SMB2]'s, spelled as tshark shows
// them (upper case: "READDIRPLUS", "GETPORT", "QUERY_DIRECTORY").
//
// Thread-safety: reentrant (constant tables). Called from: control paths,
// the offline reader, tests; not needed on the packet path.
#pragma once

#include <cstdint>
#include <string_view>

#include "dataplane/mirror/app_message.hpp"
#include "dataplane/mirror/mirror_conn.hpp"

namespace cg::dp::mirror {

/// "nfs3", "mount3", "nfs4", "smb2", "rpc".
std::string_view proto_name(app_proto p) noexcept;

/// The procedure or command of a message of `proto`: NFSv3 and MOUNT3
/// procedures, NFSv4 NULL and COMPOUND, SMB2 commands; for proto rpc the
/// portmapper's procedures when the connection speaks portmapper. Empty
/// when the number has no name.
std::string_view procedure_name(app_proto proto, std::uint32_t procedure, port_proto speaks = port_proto::rpc) noexcept;

/// An NFSv4 operation ("PUTFH", "READ", ...); empty when unknown.
std::string_view nfs4_op_name(std::uint16_t op) noexcept;

/// "none", "syn_sent", "syn_received", "established", "closing", "closed", "reset".
std::string_view tcp_state_name(tcp_state s) noexcept;

}  // namespace cg::dp::mirror
