#include "table.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "common/duration.hpp"
#include "common/net_types.hpp"

namespace cg::cli {

void table::add_row(std::vector<std::string> cells) {
    if (cells.size() > _columns.size()) throw std::logic_error("table row has more cells than columns");
    cells.resize(_columns.size());
    _rows.push_back(std::move(cells));
}

void table::render(std::string& out, std::string_view indent) const {
    const bool header =
        std::any_of(_columns.begin(), _columns.end(), [](const column& c) { return !c.header.empty(); });
    std::vector<std::size_t> width(_columns.size());
    for (std::size_t c = 0; c < _columns.size(); ++c) {
        width[c] = header ? _columns[c].header.size() : 0;
        for (const auto& row : _rows) width[c] = std::max(width[c], row[c].size());
    }
    auto line = [&](auto cell_of) {
        std::string s(indent);
        for (std::size_t c = 0; c < _columns.size(); ++c) {
            const std::string& cell = cell_of(c);
            const std::size_t pad = width[c] - cell.size();
            if (c > 0) s += "  ";
            if (_columns[c].how == align::right) s.append(pad, ' ');
            s += cell;
            if (_columns[c].how == align::left) s.append(pad, ' ');
        }
        // Padding of the last columns would only add trailing blanks.
        s.erase(s.find_last_not_of(' ') + 1);
        out += s;
        out += '\n';
    };
    if (header) line([&](std::size_t c) -> const std::string& { return _columns[c].header; });
    for (const auto& row : _rows) line([&](std::size_t c) -> const std::string& { return row[c]; });
}

std::string format_ms(std::uint64_t ms) {
    return common::format_duration(std::chrono::milliseconds(static_cast<std::int64_t>(ms)));
}

std::string_view conn_state_text(std::uint8_t state) {
    switch (state) {
        case 1: return "ACTIVE";
        case 2: return "FIN";
        default: return "-";
    }
}

void render_counts(const std::vector<common::api::named_count>& counts, std::string& out, bool skip_zero, bool total) {
    table t({{"name"}, {"count", table::align::right}});
    std::uint64_t sum = 0;
    for (const auto& c : counts) {
        sum += c.value;
        if (!skip_zero || c.value != 0) t.add_row({c.name, std::to_string(c.value)});
    }
    if (total) t.add_row({"total", std::to_string(sum)});
    t.render(out, "  ");
}

}  // namespace cg::cli
