#include "config_load.hpp"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include "config_check.hpp"
#include "config_loader.hpp"

namespace cg::common {

namespace config_yaml {

void loader::read(const YAML::Node& root) {
    _lines[""] = line_of(root);
    read_map(root, "", {
                           section("gateway", &loader::read_gateway),
                           section("eal", &loader::read_eal),
                           must(section("lcores", &loader::read_lcores)),
                           must(section("ports", &loader::read_ports)),
                           section("tables", &loader::read_tables),
                           section("timers", &loader::read_timers),
                           section("mirror", &loader::read_mirror),
                           section("mirror_parser", &loader::read_mirror_parser),
                           // After ports, timers, mirror and mirror_parser: it takes its defaults from them.
                           section("clusters", &loader::read_clusters),
                           section("spares", &loader::read_spares),
                           section("manager", &loader::read_manager),
                           section("supervision", &loader::read_supervision),
                       });
    if (_cfg.control_socket.empty()) {
        _cfg.control_socket = fmt::format("/run/clustergate/{}.sock", _cfg.name);
        inherit("gateway.control_socket", "gateway.name", "/run/clustergate/<gateway.name>.sock");
    }
    if (_cfg.manager.control_socket.empty()) {
        _cfg.manager.control_socket = fmt::format("/run/clustergate/{}-controld.sock", _cfg.name);
        inherit("manager.control_socket", "gateway.name", "/run/clustergate/<gateway.name>-controld.sock");
    }
    if (_cfg.supervision.store.empty()) {
        _cfg.supervision.store = fmt::format("/var/lib/clustergate/{}.escalation", _cfg.name);
        inherit("supervision.store", "gateway.name", "/var/lib/clustergate/<gateway.name>.escalation");
    }
    if (auto& b = _cfg.manager.state_backups; b && b->dir.empty()) {
        b->dir = fmt::format("/var/lib/clustergate/{}-state", _cfg.name);
        inherit("manager.state_backups.dir", "gateway.name", "/var/lib/clustergate/<gateway.name>-state");
    }
}

load_result loader::finish() {
    std::vector<config_error> checked = check_static(_cfg, _file);
    for (auto* check : {&check_clusters, &check_spares, &check_mirror, &check_mirror_parser, &check_manager,
                        &check_supervision}) {
        std::vector<config_error> more = check(_cfg, _file);
        checked.insert(checked.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
    }
    std::set<std::string> checked_keys;
    for (const config_error& e : checked) checked_keys.insert(e.key);
    for (config_error& e : checked) {
        if (nearest(e.key, _spoiled)) continue;  // the loader already said what is wrong there
        if (const auto it = _inherited.find(e.key); it != _inherited.end()) {
            if (checked_keys.contains(it->second.source)) continue;  // said once, where the value comes from
            e.reason += fmt::format(" (not set here: the default is {})", it->second.note);
        }
        fail(line_for(e.key), e.key, std::move(e.reason), false);
    }
    std::stable_sort(_errors.begin(), _errors.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    load_result result{std::move(_cfg), {}};
    for (auto& [line, e] : _errors) result.errors.push_back(std::move(e));
    return result;
}

}  // namespace config_yaml

namespace {

/// Finds where a second YAML document starts, if there is one. Parses at
/// most two documents: yaml-cpp 0.7's LoadAll never returns on some
/// malformed input (a lone ","), because its parser reports document after
/// document without consuming anything (jbeder/yaml-cpp#1040); found by
/// test/fuzz/fuzz_config.
class second_document final : public YAML::EventHandler {
public:
    static std::optional<int> line(const std::string& text) {
        std::istringstream in(text);
        YAML::Parser parser(in);
        second_document h;
        for (int docs = 0; docs < 2 && parser.HandleNextDocument(h); ++docs) {}
        return h._starts > 1 ? std::optional<int>(h._second_line) : std::nullopt;
    }

private:
    void OnDocumentStart(const YAML::Mark& m) override {
        if (++_starts == 2) _second_line = m.line + 1;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}

    int _starts = 0;
    int _second_line = 0;
};

}  // namespace

load_result parse_config(std::string_view yaml_text, std::string_view file_name) {
    config_yaml::loader l(file_name);
    try {
        const std::string text(yaml_text);
        if (const auto second = second_document::line(text))
            l.fail(*second, "", "expected one YAML document, found more than one");
        else
            l.read(YAML::Load(text));
    } catch (const YAML::Exception& e) {
        l.fail(e.mark.is_null() ? 0 : e.mark.line + 1, "", fmt::format("YAML syntax error: {}", e.msg));
    } catch (const std::exception& e) {
        l.fail(0, "", fmt::format("cannot read the configuration: {}", e.what()));
    }
    return l.finish();
}

load_result load_config_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    const int open_errno = errno;
    std::error_code ec;
    if (!in || std::filesystem::is_directory(path, ec)) {
        load_result result;
        const std::string reason = in ? "it is a directory, not a file"
                                      : std::generic_category().message(open_errno);
        result.errors.push_back({path, "", fmt::format("cannot read the configuration: {}", reason)});
        return result;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return parse_config(text.str(), path);
}

}  // namespace cg::common
