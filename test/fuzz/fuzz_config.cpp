// libFuzzer harness for the configuration loader (common/config_load.hpp).
// The file is written by operators and reloaded at run time through the
// control API (reload_req), so a typo must end in a readable error list,
// never in an exception escaping into gatewayd or a crash.
//
// Checks, on arbitrary text: parse_config never throws; its result is
// either ok() or a list of errors each with a non-empty reason.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>

#include "common/config_load.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    try {
        const cg::common::load_result r = cg::common::parse_config(text, "fuzz.yaml");
        for (const auto& e : r.errors) {
            if (e.reason.empty()) {
                std::fprintf(stderr, "fuzz_config: an error without a reason at %s key '%s'\n", e.where.c_str(),
                             e.key.c_str());
                std::abort();
            }
            (void)cg::common::format_error(e);  // what the operator reads must be printable too
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz_config: parse_config (or format_error) threw: %s\n", e.what());
        std::abort();
    } catch (...) {
        std::fprintf(stderr, "fuzz_config: parse_config threw something that is not a std::exception\n");
        std::abort();
    }
    return 0;
}
