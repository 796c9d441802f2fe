// libFuzzer harness for the mirror parser's record layer
// (dataplane/mirror/record_framer.hpp): a stream fed in random pieces, with
// gaps and desyncs between them.
//
// Input: a configuration byte (bit 0: NBSS rather than ONC RPC; bit 4:
// HTTP/1.x rather than either; bit 1: replies rather than calls; bits 2-3:
// the cap, 64 B to 64 KiB, the prefix a quarter of it), then a script of
// steps, each one byte:
//   0x00..0xbf  feed the next (byte + 1) input bytes (fewer at the end);
//   0xc0..0xfd  a gap of (byte - 0xbf) bytes;
//   0xfe        a gap of 64 times the next byte;
//   0xff        desync().
// Checked (a violation aborts, which libFuzzer reports as a crash):
//  - records come in stream order, end where the stream is, and no gap lies
//    inside one, but past the prefix of one emitted by its prefix;
//  - a record is whole exactly when it is at most the cap, and a longer one
//    shows exactly its prefix;
//  - its bytes, length, fragment count and end are what its markers in the
//    stream (as the harness kept it) say; an HTTP record is the stream's
//    bytes from its start to its end, and begins with a head that parses;
//  - the counters add up: records emitted, position = bytes fed + missing;
//  - a second framer fed each gap-free run of the same stream in one piece
//    emits the same records, and says the same of each gap: how TCP cut
//    the bytes does not matter, also while resynchronising.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <utility>
#include <vector>

#include "dataplane/mirror/record_framer.hpp"
#include "dataplane/pkt/wire.hpp"

namespace {

using namespace cg::dp::mirror;
using cg::dp::wire::load32;

[[noreturn]] void fail(const char* what, std::uint64_t at) {
    std::fprintf(stderr, "fuzz_rpc_record: %s (record starting at %llu)\n", what, static_cast<unsigned long long>(at));
    std::abort();
}

constexpr std::uint64_t max_stream = 4u << 20;  // gaps make the stream long; the harness keeps a copy

struct kept_record {
    std::vector<std::uint8_t> bytes;
    std::uint32_t total_len, fragments;
    std::uint64_t start, end;
    bool whole;
    bool operator==(const kept_record&) const = default;
};

struct collector final : record_sink {
    std::vector<kept_record> records;
    void on_record(const record& r) noexcept override {
        records.push_back({{r.bytes.begin(), r.bytes.end()}, r.total_len, r.fragments, r.start, r.end, r.whole()});
    }
};

/// The stream as fed: its bytes (zeros where it had gaps), and its gaps.
struct stream_copy {
    std::vector<std::uint8_t> bytes;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> gaps;
};

/// An HTTP record: the stream's bytes as they are, from a head that parses.
void check_http(const kept_record& r, const framer_config& cfg, const stream_copy& s) {
    const auto from = s.bytes.begin() + static_cast<std::ptrdiff_t>(r.start);
    const auto to = s.bytes.begin() + static_cast<std::ptrdiff_t>(r.end);
    if (r.end - r.start != r.total_len) fail("an HTTP record's length is not its bytes'", r.start);
    if (r.whole != (r.total_len <= cfg.cap)) fail("whole, but longer than the cap (or the reverse)", r.start);
    const std::size_t shown = r.whole ? r.total_len : std::min<std::size_t>(cfg.prefix, cfg.cap);
    if (r.bytes.size() != shown || !std::equal(r.bytes.begin(), r.bytes.end(), from)) fail("bytes that are not the record's", r.start);
    http1::head_scanner scan;
    const auto head_len = scan.scan({&*from, static_cast<std::size_t>(to - from)});
    if (!head_len) fail("an HTTP record without the end of a head", r.start);
    http1::head h;
    if (http1::parse_head({&*from, *head_len}, cfg.dir, h)) fail("an HTTP record whose head does not parse", r.start);
}

/// Checks one record against the markers the stream holds from its start.
void check_record(const kept_record& r, const framer_config& cfg, const stream_copy& s) {
    if (r.end > s.bytes.size() || r.start >= r.end) fail("record outside the stream", r.start);
    if (cfg.kind == framing::http1) {
        for (const auto& [from, to] : s.gaps)
            if (from < r.end && to > r.start) fail("a record across a gap", r.start);
        return check_http(r, cfg, s);
    }
    std::vector<std::uint8_t> body;
    std::uint64_t at = r.start;
    std::uint32_t fragments = 0;
    const std::size_t prefix = std::min<std::size_t>(cfg.prefix, cfg.cap);
    std::uint64_t prefix_end = r.start;  // the stream position after the prefix's last byte
    for (bool last = false; !last;) {
        if (at + 4 > r.end) fail("the record's markers run past its end", r.start);
        const std::uint32_t m = load32(&s.bytes[at]);
        const std::uint64_t len = cfg.kind == framing::nbss ? (m & 0xffffff) : (m & 0x7fffffff);
        last = cfg.kind == framing::nbss || (m & 0x80000000u);
        if (cfg.kind == framing::nbss && (m >> 24) != 0) fail("an NBSS record of another type", r.start);
        at += 4;
        if (at + len > r.end) fail("a fragment runs past the record's end", r.start);
        if (body.size() < prefix) prefix_end = at + std::min<std::uint64_t>(len, prefix - body.size());
        body.insert(body.end(), s.bytes.begin() + static_cast<std::ptrdiff_t>(at),
                    s.bytes.begin() + static_cast<std::ptrdiff_t>(at + len));
        at += len;
        ++fragments;
    }
    if (at != r.end) fail("the record ends elsewhere than its last fragment", r.start);
    if (fragments != r.fragments) fail("wrong fragment count", r.start);
    if (body.size() != r.total_len) fail("wrong total length", r.start);
    // A record emitted by its prefix may hold a gap past that prefix (its
    // shown bytes are all there); any other record none.
    const std::uint64_t clean_to = r.total_len > cfg.cap ? prefix_end : r.end;
    for (const auto& [from, to] : s.gaps)
        if (from < clean_to && to > r.start) fail("a record across a gap in what it shows", r.start);
    if (r.whole != (r.total_len <= cfg.cap)) fail("whole, but longer than the cap (or the reverse)", r.start);
    const std::size_t shown = r.whole ? body.size() : prefix;
    if (r.bytes.size() != shown) fail("not the whole record, nor exactly its prefix", r.start);
    if (!std::equal(r.bytes.begin(), r.bytes.end(), body.begin())) fail("bytes that are not the record's", r.start);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    framer_config cfg;
    cfg.kind = data[0] & 0x10 ? framing::http1 : data[0] & 1 ? framing::nbss : framing::onc_rpc;
    cfg.dir = data[0] & 2 ? direction::to_client : direction::to_server;
    static constexpr std::uint32_t caps[] = {64, 1024, 16 * 1024, 64 * 1024};
    cfg.cap = caps[(data[0] >> 2) & 3];
    cfg.prefix = cfg.cap / 4;
    cfg.max_record = 1 << 20;

    record_framer f(cfg), whole_runs(cfg);
    collector c, cw;
    stream_copy s;
    std::vector<std::uint8_t> run;  // the current gap-free run, for whole_runs
    std::uint64_t fed = 0, missing = 0;
    const auto flush_run = [&] {
        whole_runs.feed(run, cw);
        run.clear();
    };

    for (std::size_t i = 1; i < size && s.bytes.size() < max_stream;) {
        const std::uint8_t op = data[i++];
        if (op < 0xc0) {
            const std::size_t n = std::min<std::size_t>(op + 1u, size - i);
            const std::span<const std::uint8_t> piece(data + i, n);
            i += n;
            s.bytes.insert(s.bytes.end(), piece.begin(), piece.end());
            run.insert(run.end(), piece.begin(), piece.end());
            fed += n;
            f.feed(piece, c);
        } else if (op == 0xff) {
            flush_run();
            f.desync();
            whole_runs.desync();
        } else {
            std::uint32_t len = op - 0xbfu;
            if (op == 0xfe) len = i < size ? 64u * data[i++] : 0;
            flush_run();
            if (len) s.gaps.emplace_back(s.bytes.size(), s.bytes.size() + len);
            s.bytes.insert(s.bytes.end(), len, 0);
            missing += len;
            const bool spared = f.gap(len);
            if (whole_runs.gap(len) != spared) fail("the two framers disagree on what a gap spared", s.bytes.size());
        }
    }
    flush_run();

    if (f.position() != fed + missing || whole_runs.position() != f.position()) fail("position is not bytes fed plus missing", 0);
    const framer_counters& k = f.counters();
    if (k.records_whole + k.records_prefix != c.records.size()) fail("the counters do not add up to the records", 0);
    if (k.gap_bytes != missing) fail("gap bytes miscounted", 0);
    std::uint64_t prev_end = 0;
    for (const kept_record& r : c.records) {
        if (r.start < prev_end) fail("records out of order or overlapping", r.start);
        prev_end = r.end;
        check_record(r, cfg, s);
    }
    if (c.records != cw.records) fail("the records depend on how the stream was cut", 0);
    if (k.resync_skipped_bytes != whole_runs.counters().resync_skipped_bytes) fail("skipped bytes depend on the cuts", 0);
    return 0;
}
