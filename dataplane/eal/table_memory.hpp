// Hugepage memory for a large table that is read at random (a worker's
// connection table), on the largest pages EAL has: at a million entries
// and more each lookup touches a random slot, and with 2 MiB pages those
// slots span more pages than the TLB holds. A 1 GiB page (a hugetlbfs
// mount with pagesize=1G, or --in-memory with 1 GiB pages reserved) holds
// the whole table of 10 million connections. Without 1 GiB pages it falls
// back to whatever EAL has, so the choice is the operator's, at boot.
//
// Ownership: the owner frees it (unique_ptr); the memory is zeroed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

struct rte_memzone;

namespace cg::dp {

struct memzone_free {
    void operator()(const rte_memzone* mz) const noexcept;
};
using memzone_ptr = std::unique_ptr<const rte_memzone, memzone_free>;

struct table_memory {
    memzone_ptr zone;              ///< null when the allocation failed
    std::uint64_t page_bytes = 0;  ///< the size of the pages it lies on (a memzone has one)

    void* data() const noexcept;
    /// "1 GiB pages", "2 MiB pages", "4 KiB pages"
    std::string pages() const;
};

/// Tables up to this size (a worker's table of about 750,000 connections)
/// take the page size EAL gives first.
inline constexpr std::size_t large_table_bytes = std::size_t{32} << 20;

/// `bytes` of zeroed memory on `socket`: a table larger than
/// large_table_bytes on 1 GiB pages when there are enough free, else on
/// any. Called from: the main thread, after EAL init.
table_memory reserve_table_memory(const std::string& name, std::size_t bytes, int socket) noexcept;

}  // namespace cg::dp
