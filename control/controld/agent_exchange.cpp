#include "control/controld/agent_exchange.hpp"

#include <fmt/format.h>

#include "control/proto/shadow_msg.hpp"

namespace cg::control {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

struct exchange : std::enable_shared_from_this<exchange> {
    exchange(asio::io_context& io, std::vector<std::uint8_t> request_, std::string what_, frame_reader read_,
             std::function<void(std::string)> d)
        : socket(io), deadline(io), request(std::move(request_)), what(std::move(what_)), read(std::move(read_)),
          done(std::move(d)) {}

    tcp::socket socket;
    asio::steady_timer deadline;
    std::vector<std::uint8_t> request, frame;
    std::string what;
    frame_reader read;
    std::function<void(std::string)> done;
    bool finished = false;

    void finish(std::string error) {
        if (finished) return;
        finished = true;
        deadline.cancel();
        boost::system::error_code ignored;
        socket.close(ignored);
        done(std::move(error));
    }

    void start(const tcp::endpoint& agent, std::chrono::milliseconds limit) {
        auto self = shared_from_this();
        deadline.expires_after(limit);
        deadline.async_wait([self, limit](const boost::system::error_code& ec) {
            if (!ec) self->finish(fmt::format("no answer within {} ms", limit.count()));
        });
        socket.async_connect(agent, [self](const boost::system::error_code& ec) {
            if (self->finished) return;
            if (ec) return self->finish("connect: " + ec.message());
            asio::async_write(self->socket, asio::buffer(self->request), [self](const boost::system::error_code& wec,
                                                                              std::size_t) {
                if (self->finished) return;
                if (wec) return self->finish(fmt::format("sending {}: {}", self->what, wec.message()));
                self->next_frame();
            });
        });
    }

    void next_frame() {
        auto self = shared_from_this();
        frame.resize(shadow::header_size);
        asio::async_read(socket, asio::buffer(frame), [self](const boost::system::error_code& ec, std::size_t) {
            if (self->finished) return;
            if (ec == asio::error::eof)
                return self->finish(fmt::format("the agent closed the connection (it refused {}: see its log)",
                                                self->what));
            if (ec) return self->finish("reading the answer: " + ec.message());
            auto size = shadow::frame_size(self->frame);
            if (auto* r = std::get_if<shadow::refused>(&size))
                return self->finish(fmt::format("answer refused: {}: {}", shadow::refusal_name(r->why), r->detail));
            self->frame.resize(std::get<std::size_t>(size));
            asio::async_read(self->socket,
                             asio::buffer(self->frame.data() + shadow::header_size, self->frame.size() - shadow::header_size),
                             [self](const boost::system::error_code& rec, std::size_t) {
                                 if (self->finished) return;
                                 if (rec) return self->finish("the connection ended inside the answer");
                                 frame_verdict v = self->read(self->frame);
                                 if (!v.error.empty()) return self->finish(std::move(v.error));
                                 if (v.whole) return self->finish("");
                                 self->next_frame();
                             });
        });
    }
};

}  // namespace

void exchange_with_agent(asio::io_context& io, const tcp::endpoint& agent, std::vector<std::uint8_t> request,
                         std::chrono::milliseconds deadline, std::string what, frame_reader read,
                         std::function<void(std::string)> done) {
    std::make_shared<exchange>(io, std::move(request), std::move(what), std::move(read), std::move(done))
        ->start(agent, deadline);
}

}  // namespace cg::control
