// The reader of one configuration file into a gateway_cfg: which sections
// there are and what each holds. Its parts: config_load.cpp (the file as a
// whole, the checks), config_load_gateway.cpp (the gateway's own sections and
// the cluster tables), config_load_manager.cpp (controld's sections: manager, supervision).
#pragma once

#include <string>
#include <string_view>

#include "config.hpp"
#include "config_load.hpp"
#include "config_reader.hpp"

namespace cg::common::config_yaml {

class loader : public config_reader {
public:
    explicit loader(std::string_view file) : config_reader(file) {}

    void read(const YAML::Node& root);
    load_result finish();

private:
    field section(std::string_view name, void (loader::*read)(const YAML::Node&, const std::string&)) {
        return {name, [this, read](const YAML::Node& v, const std::string& key) { (this->*read)(v, key); }};
    }

    void read_gateway(const YAML::Node& v, const std::string& key);
    void read_eal(const YAML::Node& v, const std::string& key);
    void read_lcores(const YAML::Node& v, const std::string& key);
    void read_ports(const YAML::Node& list, const std::string& key);
    void read_tables(const YAML::Node& v, const std::string& key);
    void read_timers(const YAML::Node& v, const std::string& key);
    void read_mirror(const YAML::Node& v, const std::string& key);
    void read_mirror_parser(const YAML::Node& v, const std::string& key);
    void read_clusters(const YAML::Node& list, const std::string& key);
    void read_services(const YAML::Node& list, const std::string& key, std::vector<service_cfg>& out);
    void read_nodes(const YAML::Node& list, const std::string& key, std::vector<node_cfg>& out);
    void read_spares(const YAML::Node& list, const std::string& key);
    void read_manager(const YAML::Node& v, const std::string& key);
    void read_supervision(const YAML::Node& v, const std::string& key);

    gateway_cfg _cfg;
};

}  // namespace cg::common::config_yaml
