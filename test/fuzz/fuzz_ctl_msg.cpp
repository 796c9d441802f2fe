// libFuzzer harness for the control API codec (common/ctl_msg.hpp): what
// gatewayd reads from any local client, and what clients read back from it.
//
// The first 16 bytes go to decode_header; the rest is decoded as the payload
// of every request and every reply type id (and of the ids next to each,
// which must be refused unless they are in the type table). Whenever a
// payload decodes:
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

/// Whether `id` is in the type table of `Msg` (api::request or api::reply).
template <class Msg>
bool known(std::uint16_t id) {
    static constexpr auto table = api::type_table<Msg>();
    return std::ranges::any_of(table, [&](const api::msg_type& t) { return t.id == id; });
}

/// The ids to try for `Msg`: each id of its table and the ids next to it.
template <class Msg>
std::vector<std::uint16_t> ids_to_try() {
    std::vector<std::uint16_t> out{0, 0xffff};
    for (const api::msg_type& t : api::type_table<Msg>())
        out.insert(out.end(), {static_cast<std::uint16_t>(t.id - 1), t.id, static_cast<std::uint16_t>(t.id + 1)});
    return out;
}

/// The round-trip checks for one decoded message. `Msg` is api::request or
/// api::reply.
template <class Msg, class Encode, class Decode>
void round_trip(const Msg& msg, std::uint16_t type, std::span<const std::uint8_t> payload, Encode encode,
                Decode decode) {
    if (api::type_id(msg) != type) fail("decoded into the alternative of another type", type);

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
    if (const auto* msg = std::get_if<api::request>(&r)) {
        if (!known<api::request>(type)) fail("decoded a request of a type that does not exist", type);
        round_trip(*msg, type, payload, api::encode_request, api::decode_request);
    } else if (std::get<std::string>(r).empty()) {
        fail("a refused request without an error message", type);
    }
}

void check_reply(std::uint16_t type, std::span<const std::uint8_t> payload) {
    const auto r = api::decode_reply(type, payload);
    if (const auto* msg = std::get_if<api::reply>(&r)) {
        if (!known<api::reply>(type)) fail("decoded a reply of a type that does not exist", type);
        round_trip(*msg, type, payload, api::encode_reply, api::decode_reply);
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
    static const std::vector<std::uint16_t> request_ids = ids_to_try<api::request>();
    static const std::vector<std::uint16_t> reply_ids = ids_to_try<api::reply>();
    for (std::uint16_t t : request_ids) check_request(t, payload);
    for (std::uint16_t t : reply_ids) check_reply(t, payload);
    return 0;
}
