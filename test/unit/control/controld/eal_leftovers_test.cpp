// PH2.0's removal of a dead gatewayd's EAL files (control/controld/eal_leftovers.hpp),
// in a temporary directory: its own prefix's files go, nothing else does.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "control/controld/eal_leftovers.hpp"

using namespace cg::control;
namespace fs = std::filesystem;

namespace {

struct scratch {
    fs::path root = fs::temp_directory_path() / ("cg-eal-" + std::to_string(::getpid()));
    scratch() {
        fs::remove_all(root);
        fs::create_directories(root / "run" / "cg-gw");
        fs::create_directories(root / "run" / "cg-gw-b");
        fs::create_directories(root / "huge");
    }
    ~scratch() { fs::remove_all(root); }
    void touch(const fs::path& p) const { std::ofstream(root / p) << "x"; }
    bool has(const fs::path& p) const { return fs::exists(root / p); }
};

}  // namespace

TEST_CASE("PH2.0 removes the runtime directory and hugepage files of its own prefix only", "[escalation][eal]") {
    scratch s;
    for (const char* f : {"run/cg-gw/config", "run/cg-gw/fbarray_memseg-2048k-0-0", "run/cg-gw-b/config", "huge/cg-gwmap_0",
                          "huge/cg-gwmap_17", "huge/cg-gw-bmap_0", "huge/cg-gwmap_", "huge/cg-gwmap_1x", "huge/rtemap_0",
                          "huge/other"})
        s.touch(f);
    const auto r = remove_eal_leftovers("cg-gw", (s.root / "run").string(), {(s.root / "huge").string()});
    CHECK(r.errors.empty());
    CHECK(r.runtime_files == 3);  // two files and the directory
    CHECK(r.hugepage_files == 2);
    CHECK_FALSE(s.has("run/cg-gw"));
    CHECK_FALSE(s.has("huge/cg-gwmap_0"));
    CHECK_FALSE(s.has("huge/cg-gwmap_17"));
    for (const char* kept : {"run/cg-gw-b/config", "huge/cg-gw-bmap_0", "huge/cg-gwmap_", "huge/cg-gwmap_1x", "huge/rtemap_0",
                             "huge/other"})
        CHECK(s.has(kept));
    // Again: nothing left to remove, and that is no error.
    const auto again = remove_eal_leftovers("cg-gw", (s.root / "run").string(), {(s.root / "huge").string()});
    CHECK(again.errors.empty());
    CHECK(again.runtime_files + again.hugepage_files == 0);
}

TEST_CASE("PH2.0 refuses a prefix that could name other files, and says what it could not read", "[escalation][eal]") {
    scratch s;
    s.touch("huge/map_0");
    for (const char* bad : {"", ".", "..", "a/b"}) {
        const auto r = remove_eal_leftovers(bad, (s.root / "run").string(), {(s.root / "huge").string()});
        REQUIRE(r.errors.size() == 1);
        CHECK_THAT(r.errors[0], Catch::Contains("nothing removed"));
        CHECK(s.has("run/cg-gw"));
    }
    CHECK(s.has("huge/map_0"));
    const auto r = remove_eal_leftovers("cg-gw", (s.root / "run").string(), {(s.root / "missing").string()});
    REQUIRE(r.errors.size() == 1);
    CHECK_THAT(r.errors[0], Catch::Contains("missing"));
}

TEST_CASE("hugetlbfs mount points from /proc/mounts", "[escalation][eal]") {
    const std::string mounts = "proc /proc proc rw 0 0\n"
                               "hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n"
                               "nodev /mnt/huge1g hugetlbfs rw,pagesize=1024M 0 0\n"
                               "tmpfs /run tmpfs rw 0 0\n"
                               "garbage\n";
    CHECK(hugetlbfs_mounts(mounts) == std::vector<std::string>{"/dev/hugepages", "/mnt/huge1g"});
    CHECK(hugetlbfs_mounts("").empty());
}
