#include "control/nodeagent/state_keeper.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "control/controld/manager/run_command.hpp"

namespace cg::control {

namespace {

std::uint64_t wall_ms() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

/// `s` quoted for /bin/sh.
std::string quoted(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

/// Writes `bytes` to a new file under `dir`; its path, or "" with `why`.
std::string write_temp(const std::string& dir, const std::vector<std::uint8_t>& bytes, std::string& why) {
    std::string path = dir + "/cg-state-XXXXXX";
    const int fd = ::mkstemp(path.data());
    if (fd < 0) {
        why = fmt::format("cannot create a file in {}: {}", dir, std::strerror(errno));
        return {};
    }
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            why = fmt::format("cannot write {}: {}", path, std::strerror(errno));
            ::close(fd);
            ::unlink(path.c_str());
            return {};
        }
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return path;
}

}  // namespace

state_commands state_dir_commands(const std::string& dir) {
    state_commands c;
    // tar exits 1 when a file or the directory itself changed while it
    // read them (a file renamed into place does that): the archive is whole,
    // each file as it was when read. 2 and above are real failures. Those
    // two warnings would come every period from a busy service: silenced.
    c.backup = fmt::format("tar -C {} --warning=no-file-changed --warning=no-file-removed -cf - . || [ $? -eq 1 ]",
                           quoted(dir));
    c.restore = fmt::format("mkdir -p {0} && tar -C {0} -xf -", quoted(dir));
    return c;
}

void state_keeper::backup(std::size_t max_bytes, std::function<void(taken_state)> done) {
    if (_c.backup.empty()) return done({{}, wall_ms(), "this agent keeps no state (no --backup-command or --state-dir)"});
    if (_busy) return done({{}, wall_ms(), "a backup or a restore is under way"});
    _busy = true;
    const std::uint64_t started = wall_ms();
    run_command(_io, _c.backup, _c.timeout, max_bytes, [this, started, done = std::move(done)](command_result r) {
        _busy = false;
        ++_n.backups;
        if (!r.ok) {
            ++_n.backup_errors;
            return done({{}, started, "backup command: " + r.why});
        }
        done({std::vector<std::uint8_t>(r.output.begin(), r.output.end()), started, {}});
    });
}

void state_keeper::restore(common::ipv4_addr failed, std::vector<std::uint8_t> bytes, std::uint64_t taken_ms,
                           std::function<void(shadow::state_restored)> done) {
    if (_c.restore.empty()) return done({false, "this agent restores no state (no --restore-command or --state-dir)", 0});
    if (_busy) return done({false, "a backup or a restore is under way", 0});
    std::string why;
    const std::string file = write_temp(_c.tmp_dir, bytes, why);
    if (file.empty()) {
        ++_n.restore_errors;
        return done({false, why, 0});
    }
    _busy = true;
    const auto t0 = std::chrono::steady_clock::now();
    const std::string command =
        fmt::format("CG_STATE_FILE={} CG_FAILED_NODE={} CG_STATE_TAKEN_MS={}\nexport CG_STATE_FILE CG_FAILED_NODE "
                    "CG_STATE_TAKEN_MS\nexec <\"$CG_STATE_FILE\"\n{}",
                    quoted(file), common::format_ipv4(failed), taken_ms, _c.restore);
    run_command(_io, command, _c.timeout, 1u << 20, [this, file, t0, done = std::move(done)](command_result r) {
        _busy = false;
        ::unlink(file.c_str());
        ++_n.restores;
        if (!r.ok) ++_n.restore_errors;
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
        done({r.ok, r.ok ? "" : "restore command: " + r.why, static_cast<std::uint32_t>(ms.count())});
    });
}

}  // namespace cg::control
