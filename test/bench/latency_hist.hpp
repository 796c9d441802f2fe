// A latency histogram for the hot path: fixed memory, no allocation, O(1)
// record. Log-linear buckets (as in HdrHistogram): values below 64 are
// exact, above that each power of two is split in 32 buckets, so a
// percentile is off by at most 1/32 (3.1%) of its value. The exact maximum
// and minimum are kept aside.
//
// Values are unitless (cg-pktgen records TSC cycles and converts once, at
// the end). Thread-safety: none; one lcore records, and reads only after it
// stopped.
#pragma once

#include <array>
#include <cstdint>

namespace cg::bench {

class latency_hist {
public:
    static constexpr unsigned sub_bits = 5;
    static constexpr std::uint64_t sub = 1u << sub_bits;  ///< buckets per power of two
    static constexpr unsigned bucket_count = (64 - sub_bits + 1) * sub;

    void record(std::uint64_t v) noexcept {
        ++_counts[index_of(v)];
        ++_total;
        if (v > _max) _max = v;
        if (v < _min) _min = v;
    }

    /// The value at or below which a fraction `p` (0 < p <= 1) of the
    /// recorded values lie: the upper edge of the bucket that holds that rank,
    /// clamped to [min, max]. 0 when nothing was recorded.
    std::uint64_t percentile(double p) const noexcept;

    std::uint64_t count() const noexcept { return _total; }
    std::uint64_t max() const noexcept { return _total ? _max : 0; }
    std::uint64_t min() const noexcept { return _total ? _min : 0; }
    void merge(const latency_hist& o) noexcept;
    void clear() noexcept { *this = latency_hist{}; }

    static unsigned index_of(std::uint64_t v) noexcept {
        if (v < 2 * sub) return static_cast<unsigned>(v);
        const unsigned shift = 63u - static_cast<unsigned>(__builtin_clzll(v)) - sub_bits;
        return static_cast<unsigned>((shift + 1) * sub + ((v >> shift) - sub));
    }
    /// The smallest value that falls into bucket `i`.
    static std::uint64_t lower_of(unsigned i) noexcept {
        if (i < 2 * sub) return i;
        const unsigned shift = static_cast<unsigned>(i / sub - 1);
        return (i % sub + sub) << shift;
    }
    /// The largest value that falls into bucket `i`.
    static std::uint64_t upper_of(unsigned i) noexcept {
        if (i < 2 * sub) return i;
        const unsigned shift = static_cast<unsigned>(i / sub - 1);
        return lower_of(i) + ((std::uint64_t{1} << shift) - 1);
    }

private:
    std::array<std::uint64_t, bucket_count> _counts{};
    std::uint64_t _total = 0;
    std::uint64_t _max = 0;
    std::uint64_t _min = ~std::uint64_t{0};
};

}  // namespace cg::bench
