// The agent's side of the state backups, with real /bin/sh commands: a
// directory backed up with --state-dir's tar and restored into another one;
// what a restore command is given (the state on stdin, the file and the
// variables); and each way a command can fail, answered with its reason.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "control/nodeagent/state_keeper.hpp"

using namespace cg::control;
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

struct temp_dir {
    fs::path path;
    temp_dir() {
        std::string t = (fs::temp_directory_path() / "cg-state-test-XXXXXX").string();
        REQUIRE(::mkdtemp(t.data()));
        path = t;
    }
    ~temp_dir() { fs::remove_all(path); }
};

void write_file(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
}

std::string read_file(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

/// Runs `io` until `out` is set, at most 10 s. (An io_context that ran out
/// of work stops: restarted first, as each command is the next work.)
template <class T> T wait_for(asio::io_context& io, std::optional<T>& out) {
    io.restart();
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!out && std::chrono::steady_clock::now() < until) {
        if (io.stopped()) io.restart();
        io.run_one_for(std::chrono::milliseconds(10));
    }
    REQUIRE(out);
    return std::move(*out);
}

taken_state backup_of(asio::io_context& io, state_keeper& k, std::size_t max = 1u << 20) {
    std::optional<taken_state> out;
    k.backup(max, [&](taken_state s) { out = std::move(s); });
    return wait_for(io, out);
}

shadow::state_restored restore_of(asio::io_context& io, state_keeper& k, const std::vector<std::uint8_t>& bytes,
                                  std::uint64_t taken_ms = 1'700'000'000'123) {
    std::optional<shadow::state_restored> out;
    k.restore(0xc612000d, bytes, taken_ms, [&](shadow::state_restored r) { out = std::move(r); });
    return wait_for(io, out);
}

std::uint64_t now_ms() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

}  // namespace

TEST_CASE("a --state-dir backed up on the node and restored on the spare", "[nodeagent][state]") {
    asio::io_context io;
    temp_dir node, spare;
    std::string blob(100'000, '\0');
    for (std::size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>(i * 131 % 251);
    write_file(node.path / "sessions", "client 7: cart of 3\n");
    write_file(node.path / "data" / "blob.bin", blob);
    write_file(spare.path / "sessions", "the spare's own, older\n");

    state_keeper on_node(io, state_dir_commands(node.path.string()));
    const std::uint64_t before = now_ms();
    const taken_state s = backup_of(io, on_node);
    INFO(s.error);
    REQUIRE(s.error.empty());
    CHECK(s.bytes.size() > blob.size());  // a tar of both files
    CHECK(s.taken_ms >= before);
    CHECK(s.taken_ms <= now_ms());

    // The spare's directory under a name with a space and a quote: the
    // commands quote it for /bin/sh.
    const fs::path odd = spare.path / "it's here";
    state_keeper on_spare(io, state_dir_commands(odd.string()));
    const auto r = restore_of(io, on_spare, s.bytes);
    INFO(r.why);
    REQUIRE(r.ok);
    CHECK(read_file(odd / "sessions") == "client 7: cart of 3\n");
    CHECK(read_file(odd / "data" / "blob.bin") == blob);
    CHECK(on_node.counters().backups == 1);
    CHECK(on_spare.counters().restores == 1);
    CHECK(on_spare.counters().restore_errors == 0);
}

// A service that replaces its files by renaming them into place changes the
// directory while tar reads it; tar then exits 1 ("file changed as we read
// it") with a whole archive, which is a backup. Seen in CI: 2 of 6 backups
// of such a directory refused. A directory that is not there is still an
// error (tar exits 2).
TEST_CASE("a --state-dir that changes while tar reads it is still backed up", "[nodeagent][state]") {
    asio::io_context io;
    temp_dir node;
    write_file(node.path / "data" / "blob.bin", std::string(50'000, 'x'));
    std::atomic<bool> stop{false};
    std::thread churn([&] {
        for (unsigned i = 0; !stop; ++i) {
            write_file(node.path / "generation.tmp", std::to_string(i));
            fs::rename(node.path / "generation.tmp", node.path / "generation");
        }
    });
    state_keeper k(io, state_dir_commands(node.path.string()));
    int errors = 0;
    std::string first_error;
    for (int i = 0; i < 100; ++i) {
        const taken_state s = backup_of(io, k);
        if (!s.error.empty() && errors++ == 0) first_error = s.error;
    }
    stop = true;
    churn.join();
    INFO(first_error);
    CHECK(errors == 0);
    CHECK(k.counters().backup_errors == 0);

    state_keeper missing(io, state_dir_commands((node.path / "not-there").string()));
    CHECK_THAT(backup_of(io, missing).error, Catch::Contains("backup command"));
    CHECK(missing.counters().backup_errors == 1);
}

TEST_CASE("a restore command gets the state on stdin, in $CG_STATE_FILE, and whose and when", "[nodeagent][state]") {
    asio::io_context io;
    temp_dir out;
    state_commands c;
    c.restore = "cat > " + (out.path / "stdin").string() + " && cp \"$CG_STATE_FILE\" " + (out.path / "file").string() +
                " && echo \"$CG_FAILED_NODE $CG_STATE_TAKEN_MS $CG_STATE_FILE\" > " + (out.path / "env").string();
    c.tmp_dir = out.path.string();
    state_keeper k(io, c);
    const std::string state = std::string("line one\n\0binary\xff", 18);
    const auto r = restore_of(io, k, std::vector<std::uint8_t>(state.begin(), state.end()), 1'700'000'000'123);
    INFO(r.why);
    REQUIRE(r.ok);
    CHECK(read_file(out.path / "stdin") == state);
    CHECK(read_file(out.path / "file") == state);
    std::istringstream env(read_file(out.path / "env"));
    std::string node, taken, file;
    env >> node >> taken >> file;
    CHECK(node == "198.18.0.13");
    CHECK(taken == "1700000000123");
    CHECK(fs::path(file).parent_path() == out.path);
    CHECK_FALSE(fs::exists(file));  // removed once the command is done
}

TEST_CASE("state commands that fail, or are not there, answer why", "[nodeagent][state]") {
    asio::io_context io;
    SECTION("no commands") {
        state_keeper k(io, {});
        CHECK_THAT(backup_of(io, k).error, Catch::Contains("keeps no state"));
        const auto r = restore_of(io, k, {1, 2, 3});
        CHECK_FALSE(r.ok);
        CHECK_THAT(r.why, Catch::Contains("restores no state"));
    }
    SECTION("a backup command that exits with 3, one that says too much, one too slow") {
        state_commands c;
        c.backup = "echo partial; exit 3";
        c.timeout = std::chrono::milliseconds(300);
        state_keeper failing(io, c);
        const auto s = backup_of(io, failing);
        CHECK_THAT(s.error, Catch::StartsWith("backup command: ") && Catch::Contains("3"));
        CHECK(s.bytes.empty());
        CHECK(failing.counters().backup_errors == 1);

        c.backup = "head -c 5000 /dev/zero";
        state_keeper large(io, c);
        CHECK_THAT(backup_of(io, large, 1000).error, Catch::Contains("more than 1000 bytes"));

        c.backup = "sleep 5";
        state_keeper slow(io, c);
        const auto t0 = std::chrono::steady_clock::now();
        CHECK_FALSE(backup_of(io, slow).error.empty());
        CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
    }
    SECTION("a restore command that fails, and one asked while a backup runs") {
        state_commands c;
        c.restore = "cat >/dev/null; exit 1";
        c.backup = "sleep 0.3; echo done";
        state_keeper k(io, c);
        const auto r = restore_of(io, k, {1, 2, 3});
        CHECK_FALSE(r.ok);
        CHECK_THAT(r.why, Catch::StartsWith("restore command: "));
        CHECK(k.counters().restore_errors == 1);

        std::optional<taken_state> first;
        k.backup(1000, [&](taken_state s) { first = std::move(s); });
        const auto busy = restore_of(io, k, {1});
        CHECK_FALSE(busy.ok);
        CHECK_THAT(busy.why, Catch::Contains("under way"));
        const auto s = wait_for(io, first);
        CHECK(s.error.empty());
        CHECK(std::string(s.bytes.begin(), s.bytes.end()) == "done\n");
    }
    SECTION("a restore whose file cannot be written") {
        state_commands c;
        c.restore = "true";
        c.tmp_dir = "/nonexistent/dir";
        state_keeper k(io, c);
        const auto r = restore_of(io, k, {1});
        CHECK_FALSE(r.ok);
        CHECK_THAT(r.why, Catch::Contains("cannot create a file in /nonexistent/dir"));
    }
}
