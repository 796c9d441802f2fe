#include "control/controld/spare_ask.hpp"

#include <fmt/format.h>

#include "control/controld/agent_exchange.hpp"

namespace cg::control {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

void ask_spare(asio::io_context& io, const tcp::endpoint& agent, common::ipv4_addr spare, const shadow::key& k,
               common::ipv4_addr querier, auth::position at, shadow::restore r, std::chrono::milliseconds deadline,
               std::function<void(spare_answer)> done) {
    const auto sent_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    const std::size_t conns = r.conns.size();
    auto request = shadow::seal({querier, at.epoch, at.seq, static_cast<std::uint64_t>(sent_ms.count()), std::move(r)}, k);
    auto answer = std::make_shared<spare_answer>();
    exchange_with_agent(
        io, agent, std::move(request), deadline, "the restore",
        [answer, k, spare, at, conns](std::span<const std::uint8_t> frame) {
            auto got = shadow::open_restored(frame, k, spare, at, conns);
            if (auto* r = std::get_if<shadow::refused>(&got))
                return frame_verdict{false, fmt::format("answer refused: {}: {}", shadow::refusal_name(r->why), r->detail)};
            answer->outcomes = std::move(std::get<shadow::restored>(got).outcomes);
            return frame_verdict{true, {}};
        },
        [answer, done = std::move(done)](std::string error) {
            answer->error = std::move(error);
            if (!answer->ok()) answer->outcomes.clear();
            done(std::move(*answer));
        });
}

}  // namespace cg::control
