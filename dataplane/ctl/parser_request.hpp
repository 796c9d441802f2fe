// What the control thread asks of a mirror parser lcore, and the SPAN
// reader's counters: each parser lcore alone touches its parser_table, so
// `show mirror` posts one request per parser lcore, which copies its table
// into `snap` between two bursts (mirror::take_snapshot) and sets `done`;
// `restore plans` likewise has each lcore fill `batch` with one node's
// plans (mirror::take_restore_batch).
//
// Ownership: the control thread makes the request (snap.rows pre-sized, so
// the lcore never allocates), passes a pointer over the parser's SPSC
// request ring, and keeps it alive until `done`; the lcore writes `snap`,
// then sets `done` with release order; the control thread reads `done` with
// acquire order before it reads `snap`.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "dataplane/mirror/parser_snapshot.hpp"
#include "dataplane/mirror/restore_batch.hpp"
#include "dataplane/router/counters.hpp"

namespace cg::dp {

struct parser_request {
    enum class kind : std::uint8_t {
        snapshot,  ///< show mirror: the table copied into `snap`
        restore,   ///< restore plans: `node`'s connections into `batch` (restore_batch.hpp)
    };
    kind what = kind::snapshot;
    mirror::parser_snapshot snap;
    common::mac_addr node;
    mirror::restore_batch batch;  ///< rows and replay pre-sized by the control thread
    std::uint32_t now_ms = 0;  ///< the lcore's clock when it took the copy
    std::atomic<bool> done{false};
};

/// What happened to the frames the SPAN reader took off the SPAN ports,
/// before any parser saw them. Written by the reader's lcore only.
enum class span_event : std::uint8_t {
    received,   ///< frames read from the SPAN ports
    ring_full,  ///< dropped: the parser lcore's ring was full
    count_
};
inline constexpr std::size_t span_event_count = static_cast<std::size_t>(span_event::count_);
inline constexpr std::array<std::string_view, span_event_count> span_event_names = {"received", "ring_full"};

struct span_stats {
    std::array<counter, span_event_count> events{};
    counter& operator[](span_event e) noexcept { return events[static_cast<std::size_t>(e)]; }
    std::uint64_t read(span_event e) const noexcept { return events[static_cast<std::size_t>(e)].read(); }
};

}  // namespace cg::dp
