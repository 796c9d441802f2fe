// A walk over every page of a node's restore plans: lcore after lcore, each
// from slot 0 to its last page; the plans of all of them most recently used
// first, the counts summed; a reply that does not answer the page asked
// ends the walk with an error.
#include <catch2/catch.hpp>

#include "common/restore_plans_pages.hpp"

using namespace cg::common::api;

namespace {

constexpr cg::common::ipv4_addr node = 0xc612000b;

restore_plans_rep page(std::uint16_t lcore, std::uint16_t lcores, std::uint32_t next, bool done,
                       std::vector<std::uint32_t> ages, std::uint64_t restorable, std::uint64_t joined) {
    restore_plans_rep r;
    r.node = node;
    r.lcore = lcore;
    r.lcores = lcores;
    r.next_cursor = next;
    r.done = done;
    r.conns = static_cast<std::uint32_t>(restorable + joined);
    r.verdicts = {{"restorable", restorable}, {"incomplete.joined_mid_stream", joined}};
    for (std::uint32_t age : ages) {
        restore_plan_view v;
        v.params.ts_age_ms = age;
        v.lcore = lcore;
        r.plans.push_back(v);
    }
    return r;
}

}  // namespace

TEST_CASE("restore plans pages: every page of every lcore, most recently used first", "[restore_plans_pages]") {
    restore_plans_pages w(node, 2);
    CHECK(w.request().node == node);
    CHECK(w.request().max == 2);
    CHECK(w.request().lcore == 0);
    CHECK(w.request().cursor == 0);

    CHECK(w.add(page(0, 2, 5, false, {30, 10}, 2, 1)).empty());
    CHECK(!w.done());
    CHECK(w.request().lcore == 0);
    CHECK(w.request().cursor == 5);
    CHECK(w.add(page(0, 2, 64, true, {20}, 1, 0)).empty());
    CHECK(w.request().lcore == 1);
    CHECK(w.request().cursor == 0);
    CHECK(w.add(page(1, 2, 64, true, {5, 40}, 2, 2)).empty());
    REQUIRE(w.done());
    CHECK(w.pages() == 3);

    const restore_plans_rep& all = w.all();
    CHECK(all.conns == 8);
    CHECK(all.lcores == 2);
    REQUIRE(all.plans.size() == 5);
    std::vector<std::uint32_t> ages;
    for (const auto& p : all.plans) ages.push_back(p.params.ts_age_ms);
    CHECK(ages == std::vector<std::uint32_t>{5, 10, 20, 30, 40});
    CHECK(all.plans.front().lcore == 1);
    REQUIRE(all.verdicts.size() == 2);
    CHECK(all.verdicts[0].name == "restorable");
    CHECK(all.verdicts[0].value == 5);
    CHECK(all.verdicts[1].value == 3);
    CHECK(!w.add(page(1, 2, 64, true, {}, 0, 0)).empty());  // nothing after the last
}

TEST_CASE("restore plans pages: a reply that is not the page asked ends the walk", "[restore_plans_pages]") {
    SECTION("another lcore") {
        restore_plans_pages w(node);
        CHECK_THAT(w.add(page(1, 2, 0, true, {}, 0, 0)), Catch::Contains("does not answer lcore 0 from slot 0"));
        CHECK(w.done());
    }
    SECTION("a cursor that does not move on") {
        restore_plans_pages w(node);
        CHECK(w.add(page(0, 1, 7, false, {}, 0, 0)).empty());
        CHECK(!w.add(page(0, 1, 7, false, {}, 0, 0)).empty());
        CHECK(w.done());
        CHECK(!w.all().done);
    }
    SECTION("another node") {
        restore_plans_pages w(node);
        restore_plans_rep r = page(0, 1, 0, true, {}, 0, 0);
        r.node = node + 1;
        CHECK(!w.add(std::move(r)).empty());
    }
    SECTION("no lcore") {
        restore_plans_pages w(node);
        CHECK(!w.add(page(0, 0, 0, true, {}, 0, 0)).empty());
    }
}
