#include "config.hpp"

namespace cg::common {

std::string format_error(const config_error& e) {
    std::string out;
    for (const std::string* part : {&e.where, &e.key, &e.reason}) {
        if (part->empty()) continue;
        if (!out.empty()) out += ": ";
        out += *part;
    }
    return out;
}

}  // namespace cg::common
