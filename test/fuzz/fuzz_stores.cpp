// libFuzzer harness for controld's two files on disk, read back after a
// crash, a power cut or a hand edit: the escalation counts
// (escalation_store.hpp), the configuration backups (config_backups.hpp) and
// the nodes' state backups (backup_dir.hpp, state_store.hpp).
// Each input goes to both decoders; neither may crash, and what one
// accepts must survive its own round trip:
//  - a configuration backup it decodes is exactly the file encode writes
//    for that configuration and time;
//  - a node state backup it decodes likewise (its bytes are anything);
//  - escalation counts it decodes, encoded again, decode to the same state.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>
#include <variant>

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
