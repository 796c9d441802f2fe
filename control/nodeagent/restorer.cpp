#include "control/nodeagent/restorer.hpp"

#include <fmt/format.h>

#include "common/log.hpp"
#include "control/nodeagent/tcp_repair.hpp"

namespace cg::control {

namespace clog = common::log;

shadow::restored restorer::restore(const shadow::restore& r) {
    ++_c.restores;
    shadow::restored out;
    for (const shadow::restore_conn& c : r.conns) {
        out.outcomes.push_back(restore_one(c));
        ++(out.outcomes.back().restored ? _c.restored : _c.not_restored);
    }
    return out;
}

shadow::restore_outcome restorer::restore_one(const shadow::restore_conn& c) {
    const common::tcp_repair_params& p = c.params;
    shadow::restore_outcome o{p.client_addr, p.client_port, false, {}};
    const auto svc = _cfg.services.find(p.server_port);
    if (svc == _cfg.services.end()) {
        o.why = fmt::format("no service for port {} on this spare (--restore-service)", p.server_port);
        return o;
    }
    boost::asio::ip::tcp::socket service(_io);
    boost::system::error_code ec;
    service.connect(svc->second, ec);
    if (ec) {
        o.why = fmt::format("service {}:{}: {}", svc->second.address().to_string(), svc->second.port(), ec.message());
        return o;
    }
    auto made = repair_socket(p, c.replay);
    if (auto* why = std::get_if<std::string>(&made)) {
        o.why = std::move(*why);
        return o;
    }
    start_bridge(_io, std::move(std::get<owned_fd>(made)), std::move(service), _bridges);
    o.restored = true;
    return o;
}

}  // namespace cg::control
