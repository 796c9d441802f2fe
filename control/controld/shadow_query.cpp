#include "control/controld/shadow_query.hpp"

#include <memory>

#include <fmt/format.h>

namespace cg::control {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

/// One query in flight; whichever of the last chunk, a failure and the
/// deadline comes first ends it.
struct exchange : std::enable_shared_from_this<exchange> {
    exchange(asio::io_context& io, common::ipv4_addr node, const shadow::key& k, const shadow_request& r,
             std::function<void(shadow_result)> d)
        : req(r), socket(io), deadline(io), collector(k, node, {r.epoch, r.seq}), done(std::move(d)) {
        const auto sent_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch());
        query = shadow::seal({r.querier, r.epoch, r.seq, static_cast<std::uint64_t>(sent_ms.count()),
                              shadow::query{r.clusters, r.wildcard}},
                             k);
    }

    shadow_request req;
    tcp::socket socket;
    asio::steady_timer deadline;
    shadow::answer_collector collector;
    std::function<void(shadow_result)> done;
    std::vector<std::uint8_t> query, frame;
    std::chrono::milliseconds silence{0};
    std::chrono::steady_clock::time_point cap;
    bool finished = false;

    void finish(std::string error, std::optional<shadow::refusal> why = std::nullopt) {
        if (finished) return;
        finished = true;
        deadline.cancel();
        boost::system::error_code ignored;
        socket.close(ignored);
        shadow_result r;
        r.chunks = collector.chunks();
        r.error = std::move(error);
        r.refusal = why;
        if (r.ok()) r.entries = std::move(collector.entries());
        done(std::move(r));
    }
    void refused(const shadow::refused& r) {
        finish(fmt::format("chunk {} refused: {}: {}", collector.chunks(), shadow::refusal_name(r.why), r.detail),
               r.why);
    }

    /// Arms the deadline: `silence` from now, but never past the cap.
    void arm() {
        const auto now = std::chrono::steady_clock::now();
        const bool capped = now + silence >= cap;
        deadline.expires_at(capped ? cap : now + silence);
        deadline.async_wait([self = shared_from_this(), capped](const boost::system::error_code& ec) {
            // A wait that expired just as a chunk re-armed it runs anyway: the expiry says which.
            if (ec || self->deadline.expiry() > std::chrono::steady_clock::now()) return;
            const auto taken = self->collector.chunks();
            if (capped)
                self->finish(fmt::format("no whole answer within {} ms ({} chunks taken)", max_answer_time.count(),
                                         taken));
            else
                self->finish(fmt::format("silent for {} ms ({} chunks taken)", self->silence.count(), taken));
        });
    }

    void start(const tcp::endpoint& agent, std::chrono::milliseconds limit) {
        auto self = shared_from_this();
        silence = limit;
        cap = std::chrono::steady_clock::now() + max_answer_time;
        arm();
        socket.async_connect(agent, [self](const boost::system::error_code& ec) {
            if (self->finished) return;
            if (ec) return self->finish("connect: " + ec.message());
            asio::async_write(self->socket, asio::buffer(self->query),
                              [self](const boost::system::error_code& wec, std::size_t) {
                                  if (self->finished) return;
                                  if (wec) return self->finish("sending the query: " + wec.message());
                                  self->read_frame();
                              });
        });
    }

    void read_frame() {
        auto self = shared_from_this();
        frame.resize(shadow::header_size);
        asio::async_read(socket, asio::buffer(frame), [self](const boost::system::error_code& ec, std::size_t n) {
            if (self->finished) return;
            if (ec && n > 0)
                return self->refused(
                    self->collector.note({shadow::refusal::truncated, "the connection ended inside a chunk's header"}));
            if (ec) return self->ended(ec);
            auto size = shadow::frame_size(self->frame);
            if (auto* r = std::get_if<shadow::refused>(&size)) return self->refused(self->collector.note(std::move(*r)));
            self->frame.resize(std::get<std::size_t>(size));
            asio::async_read(self->socket,
                             asio::buffer(self->frame.data() + shadow::header_size, self->frame.size() - shadow::header_size),
                             [self](const boost::system::error_code& rec, std::size_t) {
                                 if (self->finished) return;
                                 if (rec)
                                     return self->refused(self->collector.note(
                                         {shadow::refusal::truncated, "the connection ended inside a chunk"}));
                                 if (auto r = self->collector.accept(self->frame)) return self->refused(*r);
                                 if (self->collector.complete()) return self->finish({});
                                 self->arm();  // a node that streams its answer is alive
                                 self->read_frame();
                             });
        });
    }

    /// The stream ended between two frames before the last chunk.
    void ended(const boost::system::error_code& ec) {
        if (ec == asio::error::eof)
            return finish(fmt::format("the agent closed the connection after {} chunks (a refused query: see its log)",
                                      collector.chunks()));
        finish("reading the answer: " + ec.message());
    }
};

}  // namespace

void query_shadow_table(asio::io_context& io, const tcp::endpoint& agent, common::ipv4_addr node, const shadow::key& k,
                        const shadow_request& req, std::chrono::milliseconds deadline,
                        std::function<void(shadow_result)> done) {
    std::make_shared<exchange>(io, node, k, req, std::move(done))->start(agent, deadline);
}

}  // namespace cg::control
