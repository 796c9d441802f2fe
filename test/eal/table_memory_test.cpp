// The connection table's memory (dataplane/eal/table_memory.hpp), on this
// binary's EAL (no hugepages: 4 KiB pages, so the 1 GiB request falls back).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include <rte_memory.h>

#include "dataplane/eal/table_memory.hpp"

using namespace cg::dp;

TEST_CASE("table memory: zeroed, on the pages EAL has, a name taken once", "[eal][table_memory]") {
    const std::size_t large = large_table_bytes + (std::size_t{1} << 20);  // asks for 1 GiB pages first
    for (std::size_t bytes : {std::size_t{64} << 10, large}) {
        CAPTURE(bytes);
        table_memory t = reserve_table_memory("cg_test_table", bytes, SOCKET_ID_ANY);
        REQUIRE(t.data() != nullptr);
        const auto* p = static_cast<const std::uint8_t*>(t.data());
        CHECK(std::all_of(p, p + bytes, [](std::uint8_t b) { return b == 0; }));
        CHECK(reinterpret_cast<std::uintptr_t>(p) % 64 == 0);
        CHECK(t.page_bytes == 4096);  // --no-huge: no 1 GiB pages to take, the fallback is EAL's own
        CHECK(t.pages() == "4 KiB pages");
        std::memset(t.data(), 0xab, bytes);

        // The name is taken while the first lives: the second gets nothing, and says so by a null.
        table_memory again = reserve_table_memory("cg_test_table", 4096, SOCKET_ID_ANY);
        CHECK(again.data() == nullptr);
    }
    // Freed with its owner: the name can be taken again, zeroed again.
    table_memory t = reserve_table_memory("cg_test_table", 4096, SOCKET_ID_ANY);
    REQUIRE(t.data() != nullptr);
    const auto* p = static_cast<const std::uint8_t*>(t.data());
    CHECK(std::all_of(p, p + 4096, [](std::uint8_t b) { return b == 0; }));
}
