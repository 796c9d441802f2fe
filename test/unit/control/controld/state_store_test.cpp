// controld's storage of the nodes' state backups (control/controld/state_store.hpp):
// one directory per node, the last `keep` kept, the newest good one handed
// out, a torn or tampered file passed over with why, a state too large refused.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "control/controld/state_store.hpp"
#include "support/temp_dir.hpp"

using namespace cg::control;
using cg::test::temp_dir;
namespace fs = std::filesystem;

namespace {

const wall_time t0{std::chrono::milliseconds(1'764'747'000'123)};
const cg::common::ipv4_addr n3 = *cg::common::parse_ipv4("198.18.0.13"), n4 = *cg::common::parse_ipv4("198.18.0.14");

}  // namespace

TEST_CASE("node state backups: per node, the last K kept, the newest good one handed out", "[control][backups]") {
    temp_dir d;
    state_store s((d.path / "state").string(), 2);
    backup_entry which;
    std::string why;
    CHECK_FALSE(s.newest(n3, which, why));
    CHECK(why == "no state backup of 198.18.0.13");

    // Bytes of every value, a NUL among them: the state is not text.
    const std::string first("sessions\0one\n", 13), second = "sessions two", third(70'000, '\xff');
    REQUIRE_FALSE(s.save(n3, first, t0));
    REQUIRE_FALSE(s.save(n3, second, t0 + std::chrono::seconds(10)));
    REQUIRE_FALSE(s.save(n4, "n4's own", t0));
    REQUIRE_FALSE(s.save(n3, third, t0 + std::chrono::seconds(20)));
    CHECK(s.list(n3).size() == 2);  // keep 2: the first one removed
    CHECK(s.counters().saved == 4);
    CHECK(s.counters().removed == 1);
    CHECK(s.nodes() == std::vector{n3, n4});

    auto b = s.newest(n3, which, why);
    REQUIRE(b);
    CHECK(b->bytes == third);
    CHECK(b->saved == t0 + std::chrono::seconds(20));
    CHECK(which.seq == 3);
    CHECK(fs::exists(d.path / "state" / "198.18.0.13" / "state-00000003.bin"));
    REQUIRE(s.newest(n4, which, why));

    SECTION("a torn newest file: the one before it, with the problem named") {
        const std::string newest = s.list(n3).front().path;
        const std::size_t header = encode_backup("node state", third, t0 + std::chrono::seconds(20)).size() - third.size();
        fs::resize_file(newest, header + 100);
        auto older = s.newest(n3, which, why);
        REQUIRE(older);
        CHECK(older->bytes == second);
        CHECK(s.list(n3).front().problem == "torn: 100 of 70000 bytes");
        CHECK(s.counters().bad_found == 1);
    }
    SECTION("every file tampered with: none handed out, each problem said") {
        for (const auto& e : s.list(n3)) {
            std::fstream f(e.path, std::ios::in | std::ios::out | std::ios::binary);
            f.seekp(-1, std::ios::end);
            f.put('x');
        }
        CHECK_FALSE(s.newest(n3, which, why));
        CHECK(why.find("checksum mismatch") != std::string::npos);
        CHECK(why.find("state-00000002.bin") != std::string::npos);
        CHECK(why.find("state-00000003.bin") != std::string::npos);
    }
    SECTION("a state larger than the store takes: refused, the others kept") {
        state_store small((d.path / "state").string(), 2, 1000);
        const auto err = small.save(n3, std::string(1001, 'a'), t0);
        REQUIRE(err);
        CHECK(*err == "the node state has 1001 bytes, more than a backup holds (1000)");
        CHECK(small.counters().write_errors == 1);
        CHECK(small.list(n3).size() == 2);
    }
}

TEST_CASE("node state backups: a directory that cannot be made is an error, not a crash", "[control][backups]") {
    temp_dir d;
    std::ofstream(d.path / "file") << "x";
    state_store s((d.path / "file").string(), 2);
    const auto err = s.save(n3, "x", t0);
    REQUIRE(err);
    CHECK(err->find("cannot create the directory") == 0);
    CHECK(s.counters().write_errors == 1);
}
