#include "control/nodeagent/restorer.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/log.hpp"
#include "control/nodeagent/tcp_repair.hpp"

namespace cg::control {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
namespace clog = common::log;

/// One restore in progress: a service connection per connection asked.
struct restorer::job {
    explicit job(asio::io_context& io) : timer(io) {}
    shadow::restore asked;
    shadow::restored out;
    std::vector<std::unique_ptr<tcp::socket>> services;  ///< null once settled
    std::vector<bool> settled;
    std::size_t pending = 0;
    asio::steady_timer timer;
    std::chrono::steady_clock::time_point warm_until;
    std::chrono::steady_clock::time_point asked_at, began_at;  ///< for the log line: the wait for first hops, the rest
    std::function<void(shadow::restored)> done;
};

void restorer::restore(const shadow::restore& r, std::function<void(shadow::restored)> done) {
    ++_c.restores;
    auto j = std::make_shared<job>(_io);
    j->asked_at = std::chrono::steady_clock::now();
    j->asked = r;
    j->done = std::move(done);
    const std::size_t n = r.conns.size();
    j->out.outcomes.resize(n);
    j->services.resize(n);
    j->settled.assign(n, false);
    j->pending = n;
    for (std::size_t i = 0; i < n; ++i) {
        const common::tcp_repair_params& p = r.conns[i].params;
        j->out.outcomes[i] = {p.client_addr, p.client_port, false, {}};
    }
    if (n == 0) return j->done(std::move(j->out));
    std::vector<common::ipv4_addr> clients;
    for (const auto& c : r.conns) clients.push_back(c.params.client_addr);
    if (const std::string err = _warm.start(clients); !err.empty()) {
        ++_c.warm_errors;
        clog::warn("restore: {}", err);
        return begin(j);
    }
    if (_warm.resolved()) return begin(j);
    ++_c.warm_waits;
    j->warm_until = std::chrono::steady_clock::now() + _cfg.warm_timeout;
    warm(j);
}

void restorer::warm(const std::shared_ptr<job>& j) {
    j->timer.expires_after(std::chrono::milliseconds(1));
    j->timer.async_wait([this, j](const boost::system::error_code& ec) {
        if (ec) return;
        if (_warm.resolved()) return begin(j);
        if (std::chrono::steady_clock::now() < j->warm_until) return warm(j);
        ++_c.warm_timeouts;
        begin(j);
    });
}

void restorer::begin(const std::shared_ptr<job>& j) {
    const shadow::restore& r = j->asked;
    const std::size_t n = r.conns.size();
    j->began_at = std::chrono::steady_clock::now();
    j->timer.expires_after(_cfg.connect_timeout);
    j->timer.async_wait([this, j](const boost::system::error_code& ec) {
        if (ec) return;
        for (std::size_t i = 0; i < j->settled.size(); ++i)
            if (!j->settled[i])
                settle(j, i, false,
                       fmt::format("the service did not take the connection within {} ms", _cfg.connect_timeout.count()));
    });
    for (std::size_t i = 0; i < n && j->pending > 0; ++i) {
        const auto svc = _cfg.services.find(r.conns[i].params.server_port);
        if (svc == _cfg.services.end()) {
            settle(j, i, false,
                   fmt::format("no service for port {} on this spare (--restore-service)", r.conns[i].params.server_port));
            continue;
        }
        j->services[i] = std::make_unique<tcp::socket>(_io);
        j->services[i]->async_connect(svc->second, [this, j, i](const boost::system::error_code& ec) { connected(j, i, ec); });
    }
}

void restorer::connected(const std::shared_ptr<job>& j, std::size_t i, const boost::system::error_code& ec) {
    if (j->settled[i]) return;  // timed out meanwhile
    const auto& c = j->asked.conns[i];
    const auto at = _cfg.services.at(c.params.server_port);
    if (ec) return settle(j, i, false, fmt::format("service {}:{}: {}", at.address().to_string(), at.port(), ec.message()));
    if (c.params.resume_sent > c.params.resume_skip) return resume_first(j, i);
    auto made = repair_socket(c.params, c.replay);
    if (auto* why = std::get_if<std::string>(&made)) return settle(j, i, false, std::move(*why));
    start_bridge(_io, std::move(std::get<owned_fd>(made)), std::move(*j->services[i]), _bridges,
                 reply_resume(c.params.resume_skip, c.params.resume_marker));
    settle(j, i, true, {});
}

void restorer::resume_first(const std::shared_ptr<job>& j, std::size_t i) {
    // The replayed call (the replay is that one call: a cut reply is resumed
    // only when it answers the one call in flight, and nothing is sent
    // again) goes to the service now. Of its reply, the record marker is
    // read and checked first: a reply of another length may never reach
    // resume_sent bytes, and is refused at once, not at connect_timeout.
    const auto& c = j->asked.conns[i];
    auto reply = std::make_shared<std::vector<std::uint8_t>>(c.params.resume_sent);
    auto check = std::make_shared<reply_resume>(c.params.resume_sent, c.params.resume_marker);
    const std::size_t head = std::min<std::size_t>(reply->size(), 4);
    asio::async_write(*j->services[i], asio::buffer(c.replay), [this, j, i, reply, check, head](
                                                                   const boost::system::error_code& ec, std::size_t) {
        if (j->settled[i]) return;
        if (ec) return settle(j, i, false, fmt::format("the replayed call to the service: {}", ec.message()));
        asio::async_read(*j->services[i], asio::buffer(reply->data(), head),
                         [this, j, i, reply, check, head](const boost::system::error_code& rec, std::size_t) {
                             if (!resumed_part(j, i, rec, *check, std::span(*reply).first(head))) return;
                             resume_rest(j, i, reply, check, head);
                         });
    });
}

void restorer::resume_rest(const std::shared_ptr<job>& j, std::size_t i,
                           const std::shared_ptr<std::vector<std::uint8_t>>& reply,
                           const std::shared_ptr<reply_resume>& check, std::size_t head) {
    asio::async_read(*j->services[i], asio::buffer(reply->data() + head, reply->size() - head),
                     [this, j, i, reply, check, head](const boost::system::error_code& rec, std::size_t) {
                         if (!resumed_part(j, i, rec, *check, std::span(*reply).subspan(head))) return;
                         // The send queue: the bytes past the client's acknowledgement the node had sent.
                         const auto& c = j->asked.conns[i];
                         common::tcp_repair_params p = c.params;
                         p.resend_len = p.resume_sent - p.resume_skip;
                         auto made = repair_socket(p, std::span<const std::uint8_t>(*reply).subspan(p.resume_skip));
                         if (auto* why = std::get_if<std::string>(&made)) return settle(j, i, false, std::move(*why));
                         ++_bridges.resumed;
                         start_bridge(_io, std::move(std::get<owned_fd>(made)), std::move(*j->services[i]), _bridges);
                         settle(j, i, true, {});
                     });
}

bool restorer::resumed_part(const std::shared_ptr<job>& j, std::size_t i, const boost::system::error_code& ec,
                            reply_resume& check, std::span<const std::uint8_t> part) {
    if (j->settled[i]) return false;
    if (ec) {
        settle(j, i, false, fmt::format("the service's reply to the replayed call: {}", ec.message()));
        return false;
    }
    if (!check.pass(part)) {
        ++_bridges.resume_mismatch;
        settle(j, i, false, "the service's reply is not the node's (another record marker)");
        return false;
    }
    return true;
}

void restorer::settle(const std::shared_ptr<job>& j, std::size_t i, bool restored, std::string why) {
    j->settled[i] = true;
    if (j->services[i] && !restored) {
        boost::system::error_code ignored;
        j->services[i]->close(ignored);  // a connect still under way completes with operation_aborted
    }
    j->out.outcomes[i].restored = restored;
    j->out.outcomes[i].why = std::move(why);
    ++(restored ? _c.restored : _c.not_restored);
    if (--j->pending == 0) {
        j->timer.cancel();
        using ms = std::chrono::duration<double, std::milli>;
        clog::info("restore of {} connection(s): first hops {:.1f} ms, service connects and repairs {:.1f} ms",
                   j->asked.conns.size(), ms(j->began_at - j->asked_at).count(),
                   ms(std::chrono::steady_clock::now() - j->began_at).count());
        j->done(std::move(j->out));
    }
}

}  // namespace cg::control
