// Output helpers shared by every console area: a column table that aligns
// its cells (numbers right, text left), and the spellings of values that
// several areas print (durations, protocols, connection states).
//
// Thread-safety: plain values, no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/ctl_msg.hpp"

namespace cg::cli {

class table {
public:
    enum class align { left, right };
    struct column {
        std::string header;  ///< empty for every column: the table has no header line
        align how = align::left;
    };

    explicit table(std::vector<column> columns) : _columns(std::move(columns)) {}

    /// A row with fewer cells than columns is padded with empty cells;
    /// extra cells are an error (std::logic_error).
    void add_row(std::vector<std::string> cells);
    bool empty() const { return _rows.empty(); }

    /// Appends the table, each line prefixed with `indent`, columns two
    /// spaces apart, no trailing blanks.
    void render(std::string& out, std::string_view indent = "") const;

private:
    std::vector<column> _columns;
    std::vector<std::vector<std::string>> _rows;
};

/// name/count rows; `skip_zero` leaves out the counters that never moved;
/// `total` adds their sum.
void render_counts(const std::vector<common::api::named_count>& counts, std::string& out, bool skip_zero,
                   bool total = false);

/// "1h2m3s" for a timer or an uptime given in milliseconds.
std::string format_ms(std::uint64_t ms);
/// Connection entry state as the API numbers it: 1 ACTIVE, 2 FIN.
std::string_view conn_state_text(std::uint8_t state);

}  // namespace cg::cli
