#include "dataplane/eal/table_memory.hpp"

#include <cstring>

#include <fmt/format.h>
#include <rte_memory.h>
#include <rte_memzone.h>

namespace cg::dp {

void memzone_free::operator()(const rte_memzone* mz) const noexcept { rte_memzone_free(mz); }

void* table_memory::data() const noexcept { return zone ? zone->addr : nullptr; }

std::string table_memory::pages() const {
    if (page_bytes >= (std::uint64_t{1} << 30)) return fmt::format("{} GiB pages", page_bytes >> 30);
    if (page_bytes >= (std::uint64_t{1} << 20)) return fmt::format("{} MiB pages", page_bytes >> 20);
    return fmt::format("{} KiB pages", page_bytes >> 10);
}

table_memory reserve_table_memory(const std::string& name, std::size_t bytes, int socket) noexcept {
    table_memory t;
    // SIZE_HINT_ONLY: 1 GiB pages first, any page size when there are none.
    // A table that 16 pages of 2 MiB hold does not take a page of 1 GiB.
    const unsigned flags = bytes > large_table_bytes ? RTE_MEMZONE_1GB | RTE_MEMZONE_SIZE_HINT_ONLY : 0;
    t.zone.reset(rte_memzone_reserve_aligned(name.c_str(), bytes, socket, flags, RTE_CACHE_LINE_SIZE));
    if (!t.zone) return t;
    t.page_bytes = t.zone->hugepage_sz;
    std::memset(t.zone->addr, 0, bytes);  // memzones are not zeroed; this also faults every page in now
    return t;
}

}  // namespace cg::dp
