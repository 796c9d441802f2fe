// The escalation ladder's file (control/controld/escalation_store.hpp): a
// round trip, and every way the file can be bad, each with what load() and
// save() must then do.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "common/crc32c.hpp"
#include "control/controld/escalation_store.hpp"
#include "support/temp_dir.hpp"

using namespace cg::control;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const wall_time t0{std::chrono::milliseconds(1'700'000'000'000)};

/// A state with every field set, from a real ladder.
escalation_state busy_state(int failures = 5) {
    escalation e{cg::common::supervision_cfg{}};
    for (int i = 0; i < failures; ++i) e.failed(i % 2 ? failure::exited : failure::died, "killed by signal 9 (Killed)", t0 + std::chrono::seconds(i));
    e.applied(rung::ph0_5);
    e.up(t0 + 10s);
    return e.state();
}

using cg::test::temp_dir;

std::vector<std::uint8_t> read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const fs::path& p, const std::vector<std::uint8_t>& b) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

/// The file's checksum made right again after an edit, so that a test reaches the checks behind it.
void reseal(std::vector<std::uint8_t>& f) {
    std::vector<std::uint8_t> covered(f.begin(), f.begin() + 12);
    covered.insert(covered.end(), f.begin() + escalation_header_size, f.end());
    const std::uint32_t crc = cg::common::crc32c(covered);
    for (int i = 0; i < 4; ++i) f[12 + i] = static_cast<std::uint8_t>(crc >> (8 * i));
}

std::string problems_of(const escalation_store::loaded& l) {
    std::string out;
    for (const auto& p : l.problems) out += p + "\n";
    return out;
}

}  // namespace

TEST_CASE("a state survives the file: encoded, decoded, saved and loaded", "[escalation]") {
    const escalation_state s = busy_state();
    REQUIRE(s.history.size() == 5);
    const auto bytes = encode_escalation(s);
    const auto back = decode_escalation(bytes);
    REQUIRE(std::holds_alternative<escalation_state>(back));
    CHECK(std::get<escalation_state>(back) == s);
    CHECK(decode_escalation(encode_escalation(escalation_state{})).index() == 0);

    temp_dir d;
    escalation_store store((d.path / "sub" / "gw.escalation").string());  // the directory is made
    REQUIRE_FALSE(store.save(s));
    CHECK(store.counters().writes == 1);
    CHECK_FALSE(fs::exists(d.path / "sub" / "gw.escalation.tmp"));
    escalation_store again(store.path());
    const auto l = again.load();
    INFO(problems_of(l));
    CHECK(l.problems.empty());
    CHECK(l.from == escalation_store::source::current);
    CHECK(l.state == s);
    CHECK(::access(store.path().c_str(), R_OK) == 0);
    struct stat st {};
    REQUIRE(::stat(store.path().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("a save keeps the previous good copy", "[escalation]") {
    temp_dir d;
    escalation_store store((d.path / "e").string());
    const escalation_state first = busy_state(1), second = busy_state(2), third = busy_state(3);
    REQUIRE_FALSE(store.save(first));
    CHECK_FALSE(fs::exists(store.previous_path()));
    REQUIRE_FALSE(store.save(second));
    CHECK(std::get<escalation_state>(decode_escalation(read_bytes(store.previous_path()))) == first);
    REQUIRE_FALSE(store.save(third));
    CHECK(std::get<escalation_state>(decode_escalation(read_bytes(store.previous_path()))) == second);
    CHECK(std::get<escalation_state>(decode_escalation(read_bytes(store.path()))) == third);
}

TEST_CASE("a bad current file is reported and counted, and the previous copy used", "[escalation]") {
    struct bad_case {
        std::string name;
        std::function<void(std::vector<std::uint8_t>&)> spoil;
        std::string reason;  ///< a distinctive part of the problem reported
    };
    const std::vector<bad_case> cases{
        {"empty (torn at 0 bytes)", [](auto& f) { f.clear(); }, "torn: 0 bytes, shorter than the 16-byte header"},
        {"torn inside the header", [](auto& f) { f.resize(10); }, "torn: 10 bytes"},
        {"torn after the header", [](auto& f) { f.resize(escalation_header_size); }, "torn: 16 of"},
        {"torn one byte short", [](auto& f) { f.pop_back(); }, "torn:"},
        {"bytes after its end", [](auto& f) { f.push_back(0); }, "1 bytes after the end of its payload"},
        {"a flipped bit in the payload", [](auto& f) { f[f.size() / 2] ^= 0x10; }, "checksum mismatch"},
        {"a flipped bit in the version", [](auto& f) { f[4] ^= 0x02; }, "checksum mismatch"},
        {"not ours", [](auto& f) { f[0] = 'X'; }, "not an escalation file"},
        {"another version, sealed",
         [](auto& f) {
             f[4] = 2;
             reseal(f);
         },
         "version 2: this controld reads version 1"},
        {"a rung out of range, sealed",
         [](auto& f) {
             f[escalation_header_size] = 9;
             reseal(f);
         },
         "rung 9 does not exist"},
        {"a payload cut short, its length and checksum made to match",
         [](auto& f) {
             f.resize(f.size() - 3);
             const auto n = static_cast<std::uint32_t>(f.size() - escalation_header_size);
             for (int i = 0; i < 4; ++i) f[8 + i] = static_cast<std::uint8_t>(n >> (8 * i));
             reseal(f);
         },
         "malformed"},
    };
    for (const bad_case& c : cases) {
        INFO(c.name);
        temp_dir d;
        escalation_store store((d.path / "e").string());
        const escalation_state older = busy_state(2), newer = busy_state(4);
        REQUIRE_FALSE(store.save(older));
        REQUIRE_FALSE(store.save(newer));
        auto bytes = read_bytes(store.path());
        c.spoil(bytes);
        write_bytes(store.path(), bytes);

        escalation_store after(store.path());
        const auto l = after.load();
        INFO(problems_of(l));
        CHECK(l.from == escalation_store::source::previous);
        CHECK(l.state == older);
        REQUIRE(l.problems.size() == 1);
        CHECK_THAT(l.problems[0], Catch::StartsWith(store.path() + ": ") && Catch::Contains(c.reason));
        CHECK(after.counters().bad_current == 1);
        CHECK(after.counters().bad_previous == 0);

        // The bad copy is not kept: the next save replaces it, and the good previous copy stays.
        REQUIRE_FALSE(after.save(newer));
        CHECK(std::get<escalation_state>(decode_escalation(read_bytes(after.previous_path()))) == older);
        CHECK(escalation_store(store.path()).load().from == escalation_store::source::current);
    }
}

TEST_CASE("every truncation and every flipped bit of a file is refused", "[escalation]") {
    const auto good = encode_escalation(busy_state());
    for (std::size_t n = 0; n < good.size(); ++n) {
        INFO("first " << n << " bytes");
        CHECK(decode_escalation(std::span(good).first(n)).index() == 1);
    }
    for (std::size_t i = 0; i < good.size(); ++i)
        for (int bit = 0; bit < 8; ++bit) {
            auto f = good;
            f[i] ^= static_cast<std::uint8_t>(1 << bit);
            INFO("byte " << i << " bit " << bit);
            CHECK(decode_escalation(f).index() == 1);
        }
}

TEST_CASE("missing files: a fresh start, or the previous copy after a save cut between its renames",
          "[escalation]") {
    temp_dir d;
    escalation_store store((d.path / "e").string());
    SECTION("neither file: a fresh start, not a problem") {
        const auto l = store.load();
        CHECK(l.from == escalation_store::source::fresh);
        CHECK(l.problems.empty());
        CHECK(l.state == escalation_state{});
        CHECK(store.counters().bad_current == 0);
    }
    SECTION("only the previous copy") {
        const escalation_state s = busy_state();
        REQUIRE_FALSE(store.save(s));
        fs::rename(store.path(), store.previous_path());
        write_bytes(store.path() + ".tmp", {1, 2, 3});  // a new copy not yet renamed: never read
        escalation_store after(store.path());
        const auto l = after.load();
        CHECK(l.from == escalation_store::source::previous);
        CHECK(l.state == s);
        REQUIRE(l.problems.size() == 1);
        CHECK(l.problems[0] == store.path() + ": missing");
        CHECK(after.counters().bad_current == 0);  // missing is no corruption
        REQUIRE_FALSE(after.save(busy_state(1)));   // no current copy to keep: the previous one stays
        CHECK(std::get<escalation_state>(decode_escalation(read_bytes(after.previous_path()))) == s);
        CHECK_FALSE(fs::exists(store.path() + ".tmp"));
    }
}

TEST_CASE("both copies bad: a fresh start, both reported and counted", "[escalation]") {
    temp_dir d;
    escalation_store store((d.path / "e").string());
    write_bytes(store.path(), {'C', 'G', 'E', 'S'});
    write_bytes(store.previous_path(), std::vector<std::uint8_t>(100, 0xff));
    const auto l = store.load();
    CHECK(l.from == escalation_store::source::fresh);
    CHECK(l.state == escalation_state{});
    REQUIRE(l.problems.size() == 2);
    CHECK_THAT(l.problems[0], Catch::Contains("torn: 4 bytes"));
    CHECK_THAT(l.problems[1], Catch::StartsWith(store.previous_path()) && Catch::Contains("not an escalation file"));
    CHECK(store.counters().bad_current == 1);
    CHECK(store.counters().bad_previous == 1);
    // Bad copies are replaced by the next save, and that one loads.
    REQUIRE_FALSE(store.save(busy_state()));
    CHECK(escalation_store(store.path()).load().from == escalation_store::source::current);
}

TEST_CASE("a directory in place of the file is reported, not read", "[escalation]") {
    temp_dir d;
    fs::create_directory(d.path / "e");
    escalation_store store((d.path / "e").string());
    const auto l = store.load();
    CHECK(l.from == escalation_store::source::fresh);
    REQUIRE_FALSE(l.problems.empty());
    CHECK_THAT(l.problems[0], Catch::Contains("not a regular file"));
}

TEST_CASE("an unwritable place: save says why, counts it, and leaves the files as they were", "[escalation]") {
    temp_dir d;
    SECTION("the directory is a file") {
        write_bytes(d.path / "plain", {1});
        escalation_store store((d.path / "plain" / "e").string());
        const auto err = store.save(busy_state());
        REQUIRE(err);
        CHECK_THAT(*err, Catch::Contains("cannot create the directory"));
        CHECK(store.counters().write_errors == 1);
        CHECK(store.last_error() == *err);
        CHECK(store.load().from == escalation_store::source::fresh);  // no crash, a fresh start
    }
    SECTION("a directory nobody may write, not even root (sysfs)") {
        if (!fs::is_directory("/sys")) FAIL("no /sys on this machine");
        escalation_store store("/sys/cg-escalation-test");
        const auto err = store.save(busy_state());
        REQUIRE(err);
        CHECK_THAT(*err, Catch::Contains("cannot create /sys/cg-escalation-test.tmp"));
        CHECK(store.counters().write_errors == 1);
    }
    SECTION("a directory without write permission (as a user other than root)") {
        escalation_store store((d.path / "e").string());
        const escalation_state s = busy_state(2);
        REQUIRE_FALSE(store.save(s));
        fs::permissions(d.path, fs::perms::owner_read | fs::perms::owner_exec);
        const auto err = store.save(busy_state(3));
        if (::geteuid() == 0) {
            WARN("root writes anyway: only the case above checks an unwritable directory");
            CHECK_FALSE(err);
        } else {
            REQUIRE(err);
            CHECK_THAT(*err, Catch::Contains("Permission denied"));
            CHECK(escalation_store(store.path()).load().state == s);  // as it was
        }
    }
}
