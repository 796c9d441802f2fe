// controld's run mark: a previous run that ended without a stop is found at
// the next start, a stop in order leaves nothing, and a mark that cannot be
// read still counts as one.
#include <catch2/catch.hpp>

#include <fstream>

#include "control/controld/run_mark.hpp"
#include "support/temp_dir.hpp"

using namespace cg::control;
using cg::test::temp_dir;
using namespace std::chrono_literals;

TEST_CASE("run mark: a run that ended without a stop is found by the next one", "[escalation][run_mark]") {
    temp_dir d;
    const std::string path = (d.path / "sub" / "gw.escalation.running").string();  // the directory is made
    const wall_time t0 = std::chrono::sys_days{std::chrono::year{2026} / 12 / 7} + 1h + 22min + 57s + 440ms;
    {
        run_mark first(path);
        CHECK_FALSE(first.previous());  // a first start
        REQUIRE_FALSE(first.set(812, t0));
    }  // ends without clear(): killed, or a power cut
    run_mark second(path);
    REQUIRE(second.previous());
    CHECK(*second.previous() == "controld pid 812, started 2026-12-07 01:22:57.440 UTC");
    REQUIRE_FALSE(second.set(900, t0 + 5s));
    REQUIRE_FALSE(second.clear());  // a stop in order
    CHECK_FALSE(std::filesystem::exists(path));
    CHECK_FALSE(run_mark(path).previous());
    CHECK_FALSE(second.clear());  // nothing left to remove is no error
}

TEST_CASE("run mark: whatever is left counts, and says what it is", "[escalation][run_mark]") {
    temp_dir d;
    const std::string path = (d.path / "m").string();
    { std::ofstream(path) << ""; }  // a write cut short
    REQUIRE(run_mark(path).previous());
    CHECK(*run_mark(path).previous() == "an empty mark (a write cut short)");
    std::filesystem::remove(path);
    std::filesystem::create_directory(path);  // not a regular file
    REQUIRE(run_mark(path).previous());
    CHECK(run_mark(path).previous()->starts_with("a mark that cannot be read: "));
}

TEST_CASE("run mark: a mark that cannot be written says why", "[escalation][run_mark]") {
    temp_dir d;
    { std::ofstream(d.path / "file") << "x"; }
    run_mark m((d.path / "file" / "gw.running").string());  // under a regular file
    const auto err = m.set(1, wall_time{});
    REQUIRE(err);
    CHECK(err->find("cannot create the directory") != std::string::npos);
}
