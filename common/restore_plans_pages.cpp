#include "restore_plans_pages.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace cg::common::api {

std::string restore_plans_pages::add(restore_plans_rep&& page) {
    if (_done) return "restore plans: a page after the last";
    if (page.node != _next.node || page.lcore != _next.lcore || page.lcores == 0 || page.lcore >= page.lcores ||
        (_pages > 0 && page.lcores != _all.lcores) || (!page.done && page.next_cursor <= _next.cursor)) {
        _done = true;
        return fmt::format("restore plans: a page that does not answer lcore {} from slot {}", _next.lcore,
                           _next.cursor);
    }
    if (_pages++ == 0) {
        _all.node = page.node;
        _all.mac = page.mac;
        _all.lcores = page.lcores;
    }
    _all.conns += page.conns;
    for (named_count& v : page.verdicts) {
        auto it = std::find_if(_all.verdicts.begin(), _all.verdicts.end(),
                               [&](const named_count& c) { return c.name == v.name; });
        if (it == _all.verdicts.end())
            _all.verdicts.push_back(std::move(v));
        else
            it->value += v.value;
    }
    std::move(page.plans.begin(), page.plans.end(), std::back_inserter(_all.plans));
    if (!page.done) {
        _next.cursor = page.next_cursor;
    } else if (page.lcore + 1 < page.lcores) {
        ++_next.lcore;
        _next.cursor = 0;
    } else {
        _done = true;
        _all.done = true;
        std::stable_sort(_all.plans.begin(), _all.plans.end(), [](const restore_plan_view& a, const restore_plan_view& b) {
            return a.params.ts_age_ms < b.params.ts_age_ms;
        });
    }
    return {};
}

}  // namespace cg::common::api
