#include "control/controld/spare_ask.hpp"

#include <fmt/format.h>

namespace cg::control {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

struct exchange : std::enable_shared_from_this<exchange> {
    exchange(asio::io_context& io, common::ipv4_addr spare_, const shadow::key& k_, auth::position at_,
             std::size_t conns_, std::vector<std::uint8_t> request_, std::function<void(spare_answer)> d)
        : socket(io), deadline(io), spare(spare_), k(k_), at(at_), conns(conns_), request(std::move(request_)),
          done(std::move(d)) {}

    tcp::socket socket;
    asio::steady_timer deadline;
    common::ipv4_addr spare;
    shadow::key k;
    auth::position at;
    std::size_t conns;
    std::vector<std::uint8_t> request, frame;
    std::function<void(spare_answer)> done;
    bool finished = false;

    void finish(spare_answer a) {
        if (finished) return;
        finished = true;
        deadline.cancel();
        boost::system::error_code ignored;
        socket.close(ignored);
        done(std::move(a));
    }
    void fail(std::string why) { finish({{}, std::move(why)}); }

    void start(const tcp::endpoint& agent, std::chrono::milliseconds limit) {
        auto self = shared_from_this();
        deadline.expires_after(limit);
        deadline.async_wait([self, limit](const boost::system::error_code& ec) {
            if (!ec) self->fail(fmt::format("no answer within {} ms", limit.count()));
        });
        socket.async_connect(agent, [self](const boost::system::error_code& ec) {
            if (self->finished) return;
            if (ec) return self->fail("connect: " + ec.message());
            asio::async_write(self->socket, asio::buffer(self->request), [self](const boost::system::error_code& wec, std::size_t) {
                if (self->finished) return;
                if (wec) return self->fail("sending the restore: " + wec.message());
                self->read_answer();
            });
        });
    }

    void read_answer() {
        auto self = shared_from_this();
        frame.resize(shadow::header_size);
        asio::async_read(socket, asio::buffer(frame), [self](const boost::system::error_code& ec, std::size_t) {
            if (self->finished) return;
            if (ec == asio::error::eof) return self->fail("the agent closed the connection (a refused restore: see its log)");
            if (ec) return self->fail("reading the answer: " + ec.message());
            auto size = shadow::frame_size(self->frame);
            if (auto* r = std::get_if<shadow::refused>(&size))
                return self->fail(fmt::format("answer refused: {}: {}", shadow::refusal_name(r->why), r->detail));
            self->frame.resize(std::get<std::size_t>(size));
            asio::async_read(self->socket,
                             asio::buffer(self->frame.data() + shadow::header_size, self->frame.size() - shadow::header_size),
                             [self](const boost::system::error_code& rec, std::size_t) {
                                 if (self->finished) return;
                                 if (rec) return self->fail("the connection ended inside the answer");
                                 auto got = shadow::open_restored(self->frame, self->k, self->spare, self->at, self->conns);
                                 if (auto* r = std::get_if<shadow::refused>(&got))
                                     return self->fail(fmt::format("answer refused: {}: {}", shadow::refusal_name(r->why),
                                                                   r->detail));
                                 self->finish({std::move(std::get<shadow::restored>(got).outcomes), {}});
                             });
        });
    }
};

}  // namespace

void ask_spare(asio::io_context& io, const tcp::endpoint& agent, common::ipv4_addr spare, const shadow::key& k,
               common::ipv4_addr querier, auth::position at, shadow::restore r, std::chrono::milliseconds deadline,
               std::function<void(spare_answer)> done) {
    const auto sent_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    const std::size_t conns = r.conns.size();
    auto request = shadow::seal({querier, at.epoch, at.seq, static_cast<std::uint64_t>(sent_ms.count()), std::move(r)}, k);
    std::make_shared<exchange>(io, spare, k, at, conns, std::move(request), std::move(done))->start(agent, deadline);
}

}  // namespace cg::control
