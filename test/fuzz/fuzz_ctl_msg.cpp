// libFuzzer harness for the control API codec (common/ctl_msg.hpp): what
// gatewayd reads from any local client, and what clients read back from it.
//
// The first 16 bytes go to decode_header; the rest is decoded as the payload
// of every request and every reply type (and of the types just outside both
// ranges, which must be refused). Whenever a payload decodes:
//  - encoding the message gives a frame whose header decodes, with the
//    message's type, the payload's length and our sequence number;
//  - the payload of that frame is the input itself: the format has exactly
//    one encoding per message (fixed-width integers, counted strings and
//    vectors, 0/1 flags, no trailing bytes), so anything else means the
//    decoder accepted bytes that the encoder would never write;
//  - decoding that frame again succeeds and re-encodes to identical bytes.
// A violation aborts, which libFuzzer reports as a crash.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/ctl_msg.hpp"

namespace {

using namespace cg::common;

[[noreturn]] void fail(const char* what, std::uint16_t type) {
    std::fprintf(stderr, "fuzz_ctl_msg: %s (message type 0x%04x)\n", what, type);
    std::abort();
}

constexpr std::uint32_t seq = 0x0a0b0c0d;

/// The round-trip checks for one decoded message. `Msg` is api::request or
/// api::reply; `index_base` the wire type of its first alternative.
template <class Msg, class Encode, class Decode>
void round_trip(const Msg& msg, std::uint16_t type, std::span<const std::uint8_t> payload, std::uint16_t index_base,
                Encode encode, Decode decode) {
    if (msg.index() + index_base != type) fail("decoded into the alternative of another type", type);

    const std::vector<std::uint8_t> frame = encode(msg, seq);
    if (frame.size() < api::header_size) fail("encoded frame shorter than its header", type);
    const auto body = std::span(frame).subspan(api::header_size);
    api::frame_header h;
    if (auto err = api::decode_header(std::span(frame).first(api::header_size), h)) fail(err->c_str(), type);
    if (h.type != type) fail("re-encoded header has another type", type);
    if (h.length != body.size()) fail("re-encoded header's length is not the payload's", type);
    if (h.seq != seq) fail("re-encoded header lost the sequence number", type);
    if (!std::ranges::equal(body, payload)) fail("the decoder accepted a non-canonical encoding", type);

    auto again = decode(h.type, body);
    if (auto* err = std::get_if<std::string>(&again)) fail(err->c_str(), type);
    if (encode(std::get<Msg>(again), seq) != frame) fail("decode(encode(m)) re-encodes to other bytes", type);
}

void check_request(std::uint16_t type, std::span<const std::uint8_t> payload) {
    const auto r = api::decode_request(type, payload);
    const bool valid = type >= 1 && type <= std::variant_size_v<api::request>;
    if (const auto* msg = std::get_if<api::request>(&r)) {
        if (!valid) fail("decoded a request of a type that does not exist", type);
        round_trip(*msg, type, payload, 1, api::encode_request, api::decode_request);
    } else if (std::get<std::string>(r).empty()) {
        fail("a refused request without an error message", type);
    }
}

void check_reply(std::uint16_t type, std::span<const std::uint8_t> payload) {
    const auto r = api::decode_reply(type, payload);
    const bool valid = type >= api::reply_type_base && type < api::reply_type_base + std::variant_size_v<api::reply>;
    if (const auto* msg = std::get_if<api::reply>(&r)) {
        if (!valid) fail("decoded a reply of a type that does not exist", type);
        round_trip(*msg, type, payload, api::reply_type_base, api::encode_reply, api::decode_reply);
    } else if (std::get<std::string>(r).empty()) {
        fail("a refused reply without an error message", type);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> in(data, size);

    // Short inputs too: decode_header must refuse them without reading.
    api::frame_header h;
    if (!api::decode_header(in.first(std::min(size, api::header_size)), h)) {
        if (size < api::header_size) fail("accepted a header shorter than header_size", h.type);
        if (h.magic != api::frame_magic || h.version != api::protocol_version || h.length > api::max_payload)
            fail("accepted a header with a wrong magic, version or length", h.type);
        if (api::type_name(h.type).empty()) fail("a type without a name", h.type);
    }

    const auto payload = size > api::header_size ? in.subspan(api::header_size) : std::span<const std::uint8_t>{};
    constexpr auto n_req = static_cast<std::uint16_t>(std::variant_size_v<api::request>);
    constexpr auto n_rep = static_cast<std::uint16_t>(std::variant_size_v<api::reply>);
    for (std::uint16_t t = 0; t <= n_req + 1; ++t) check_request(t, payload);
    for (std::uint16_t t = api::reply_type_base - 1; t <= api::reply_type_base + n_rep; ++t) check_reply(t, payload);
    return 0;
}
