// libFuzzer harness for the files clustergate reads back after a crash, a
// power cut or a hand edit: controld's escalation counts
// (escalation_store.hpp), configuration backups (config_backups.hpp) and
// the nodes' state backups (backup_dir.hpp, state_store.hpp), and the
// console's connection table files (common/conn_file.hpp).
// Each input goes to both decoders; neither may crash, and what one
// accepts must survive its own round trip:
//  - a configuration backup it decodes is exactly the file encode writes
//    for that configuration and time;
//  - a node state backup it decodes likewise (its bytes are anything);
//  - escalation counts it decodes, encoded again, decode to the same state;
//  - a connection table file it decodes is exactly what encode writes for
//    its records.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>
#include <variant>

#include "common/conn_file.hpp"
#include "control/controld/backup_dir.hpp"
#include "control/controld/config_backups.hpp"
#include "control/controld/escalation_store.hpp"

using namespace cg::control;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> in(data, size);
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    auto backup = decode_config_backup(text);
    if (const auto* b = std::get_if<config_backup>(&backup); b && encode_config_backup(b->yaml, b->saved) != text) {
        std::fprintf(stderr, "fuzz_stores: a backup decoded, but its encoding differs from the input\n");
        std::abort();
    }

    auto state = decode_backup("node state", text);
    if (const auto* b = std::get_if<backup_bytes>(&state); b && encode_backup("node state", b->bytes, b->saved) != text) {
        std::fprintf(stderr, "fuzz_stores: a state backup decoded, but its encoding differs from the input\n");
        std::abort();
    }

    auto table = cg::common::decode_conn_file(in);
    if (const auto* t = std::get_if<std::vector<cg::common::api::conn_record>>(&table)) {
        const auto again = cg::common::encode_conn_file(*t);
        if (!std::equal(again.begin(), again.end(), in.begin(), in.end())) {
            std::fprintf(stderr, "fuzz_stores: a connection file decoded, but its encoding differs from the input\n");
            std::abort();
        }
    }

    auto counts = decode_escalation(in);
    if (const auto* s = std::get_if<escalation_state>(&counts)) {
        const auto again = encode_escalation(*s);
        auto back = decode_escalation(again);
        const auto* t = std::get_if<escalation_state>(&back);
        if (!t || !(*t == *s)) {
            std::fprintf(stderr, "fuzz_stores: escalation counts did not survive their own round trip\n");
            std::abort();
        }
    }
    return 0;
}
