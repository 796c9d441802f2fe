// Backups of the configuration file (control/controld/config_backups.hpp):
// the file format and every way a backup can be bad, the directory (kept,
// unchanged, removed), the choice of what to start from, and the install.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "control/controld/config_backups.hpp"
#include "support/temp_dir.hpp"

using namespace cg::control;
using namespace std::chrono_literals;
using cg::test::temp_dir;
namespace fs = std::filesystem;

namespace {

const wall_time t0{std::chrono::milliseconds(1'764'747'000'123)};

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

void write_text(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary | std::ios::trunc) << s; }

std::string problem_of(const std::string& file) {
    auto d = decode_config_backup(file);
    return std::holds_alternative<std::string>(d) ? std::get<std::string>(d) : "";
}

}  // namespace

TEST_CASE("a configuration backup: its round trip, and each bad one with why", "[control][backups]") {
    const std::string yaml = "gateway:\n  name: gw1\n";
    const std::string file = encode_config_backup(yaml, t0);
    CHECK(file.starts_with("# clustergate configuration backup v1 bytes=21 crc32c="));
    CHECK(file.ends_with("saved_ms=1764747000123\n" + yaml));
    auto d = decode_config_backup(file);
    REQUIRE(std::holds_alternative<config_backup>(d));
    CHECK(std::get<config_backup>(d).yaml == yaml);
    CHECK(std::get<config_backup>(d).saved == t0);
    CHECK(format_wall(t0) == "2025-12-03 07:30:00.123 UTC");

    std::string tampered = file;
    tampered[tampered.size() - 3] ^= 0x20;  // "gw1" -> "gW1"
    std::string version = file;
    version.replace(version.find("v1 "), 3, "v2 ");
    struct bad { std::string name, file, why; };
    const std::vector<bad> cases = {
        {"empty", "", "no backup header line"},
        {"the configuration alone", yaml, "no backup header line"},
        {"tampered", tampered, "checksum mismatch"},
        {"torn", file.substr(0, file.size() - 5), "torn: 16 of 21 bytes"},
        {"bytes after its end", file + "x: 1\n", "5 bytes after the end"},
        {"another version", version, "version 2: this controld reads version 1"},
        {"a number with leading zeros", std::string(file).replace(file.find("saved_ms=") + 9, 0, "00"),
         "malformed header line"},
        {"a time past the clock's range (found by fuzz_stores)",
         std::string(file).replace(file.find("saved_ms=") + 9, 13, "17777777777777777777"), "past the last time"},
        {"a header cut short", "# clustergate configuration backup v1 bytes=21\n" + yaml, "malformed header line"},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        CHECK_THAT(problem_of(c.file), Catch::Contains(c.why));
    }
}

TEST_CASE("the backup directory: a save per change, the last K kept, bad ones reported once",
          "[control][backups]") {
    temp_dir d("cg-backups");
    config_backups b((d.path / "backups").string(), 3);  // made at the first save
    CHECK(b.list().empty());
    REQUIRE_FALSE(b.save("a: 1\n", t0));
    REQUIRE_FALSE(b.save("a: 1\n", t0 + 1s));  // unchanged: nothing written
    CHECK(b.counters().saved == 1);
    CHECK(b.counters().unchanged == 1);
    for (int i = 2; i <= 5; ++i) REQUIRE_FALSE(b.save(fmt::format("a: {}\n", i), t0 + std::chrono::seconds(i)));
    auto l = b.list();
    REQUIRE(l.size() == 3);  // 3, 4 and 5; 1 and 2 removed
    CHECK(b.counters().removed == 2);
    CHECK(l[0].seq == 5);
    CHECK(l[2].seq == 3);
    CHECK(l[0].saved == t0 + 5s);
    CHECK(l[0].bytes == 5);
    CHECK(fs::exists(d.path / "backups" / "config-00000005.yaml"));

    // The newest corrupted: reported (once), and a save compares with the
    // newest good one, so the same bytes as the newest good are not saved again.
    const fs::path newest = l[0].path;
    std::string text = read_text(newest);
    text.back() = '9';
    write_text(newest, text);
    l = b.list();
    CHECK_THAT(l[0].problem, Catch::Contains("checksum mismatch"));
    CHECK(l[1].good());
    b.list();
    CHECK(b.counters().bad_found == 1);
    REQUIRE_FALSE(b.save("a: 4\n", t0 + 10s));
    CHECK(b.counters().unchanged == 2);

    // A directory that cannot be made: an error, counted, nothing thrown.
    write_text(d.path / "file", "x");
    config_backups no((d.path / "file" / "sub").string(), 3);
    const auto err = no.save("a: 1\n", t0);
    REQUIRE(err);
    CHECK_THAT(*err, Catch::Contains("cannot create the directory"));
    CHECK(no.counters().write_errors == 1);
    CHECK(no.last_error() == *err);
}

TEST_CASE("what to start from: the newest good backup that differs and loads, then the initial file",
          "[control][backups]") {
    temp_dir d("cg-backups");
    config_backups b((d.path / "b").string(), 5);
    for (int i = 1; i <= 4; ++i) REQUIRE_FALSE(b.save(fmt::format("a: {}\n", i), t0 + std::chrono::seconds(i)));
    // 4 is corrupted, 3 is the current file, 2 does not load: 1 it is.
    const auto l = b.list();
    std::string text = read_text(l[0].path);
    text.back() = 'x';
    write_text(l[0].path, text);
    const auto loads = [](const std::string& y) { return y != "a: 2\n"; };
    std::vector<std::string> skipped;
    auto c = b.choose("a: 3\n", "", loads, skipped);
    REQUIRE(c);
    CHECK(c->yaml == "a: 1\n");
    CHECK(c->what == "backup 1 (saved 2025-12-03 07:30:01.123 UTC)");
    REQUIRE(skipped.size() == 3);
    CHECK_THAT(skipped[0], Catch::Contains("backup 4") && Catch::Contains("checksum mismatch"));
    CHECK(skipped[1] == "backup 3: the same as the current file");
    CHECK(skipped[2] == "backup 2: does not load");

    // None of the backups will do: the initial file, if it differs and loads.
    skipped.clear();
    const auto none = [](const std::string& y) { return y == "initial: 1\n"; };
    CHECK_FALSE(b.choose("a: 3\n", "", none, skipped));
    const fs::path initial = d.path / "gateway.yaml.initial";
    skipped.clear();
    CHECK_FALSE(b.choose("a: 3\n", initial.string(), none, skipped));
    CHECK_THAT(skipped.back(), Catch::Contains("missing"));
    write_text(initial, "initial: 1\n");
    skipped.clear();
    c = b.choose("a: 3\n", initial.string(), none, skipped);
    REQUIRE(c);
    CHECK(c->yaml == "initial: 1\n");
    CHECK(c->what == "the initial file " + initial.string());
    skipped.clear();
    CHECK_FALSE(b.choose("initial: 1\n", initial.string(), none, skipped));  // it is the current file
}

TEST_CASE("installing a configuration keeps the file it replaces", "[control][backups]") {
    temp_dir d("cg-backups");
    const fs::path cfg = d.path / "gateway.yaml";
    write_text(cfg, "broken: [\n");
    REQUIRE_FALSE(install_config(cfg.string(), "a: 1\n"));
    CHECK(read_text(cfg) == "a: 1\n");
    CHECK(read_text(d.path / "gateway.yaml.replaced") == "broken: [\n");
    CHECK_FALSE(fs::exists(d.path / "gateway.yaml.tmp"));
    const auto err = install_config((d.path / "no" / "such.yaml").string(), "a: 1\n");
    REQUIRE(err);
    CHECK_THAT(*err, Catch::Contains("cannot create"));
}
