// Loading conf/gateway.yaml into a gateway_cfg, with every error reported as
// file:line, key path and reason. Nothing is applied unless the whole file is
// valid: callers use `cfg` only when `errors` is empty.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"

namespace cg::common {

struct load_result {
    gateway_cfg cfg;
    std::vector<config_error> errors;
    bool ok() const { return errors.empty(); }
};

/// Reads and validates a file (syntax, unknown keys, types, ranges, and the
/// semantic rules of config_check.hpp). Thread-safety: reentrant.
load_result load_config_file(const std::string& path);

/// The same for text already in memory; `file_name` is used in messages.
load_result parse_config(std::string_view yaml_text, std::string_view file_name);

}  // namespace cg::common
