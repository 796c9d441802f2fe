#include "control/controld/durable_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

namespace cg::control {

std::string errno_text(const std::string& what, int err) { return fmt::format("{}: {}", what, std::strerror(err)); }

std::variant<std::vector<std::uint8_t>, missing_file, std::string> read_whole(const std::string& path,
                                                                               std::size_t max_bytes) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return missing_file{};
        return errno_text("cannot open it", errno);
    }
    struct stat st {};
    std::variant<std::vector<std::uint8_t>, missing_file, std::string> out;
    if (::fstat(fd, &st) != 0) {
        out = errno_text("cannot stat it", errno);
    } else if (!S_ISREG(st.st_mode)) {
        out = std::string("not a regular file");
    } else if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
        out = fmt::format("{} bytes, more than such a file ever holds ({})", st.st_size, max_bytes);
    } else {
        std::vector<std::uint8_t> bytes(static_cast<std::size_t>(st.st_size));
        std::size_t got = 0;
        while (got < bytes.size()) {
            const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            got += static_cast<std::size_t>(n);
        }
        if (got == bytes.size())
            out = std::move(bytes);
        else
            out = errno_text(fmt::format("read {} of {} bytes", got, bytes.size()), errno);
    }
    ::close(fd);
    return out;
}

std::optional<std::string> write_synced(const std::string& path, std::span<const std::uint8_t> bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return errno_text("cannot create " + path, errno);
    std::size_t put = 0;
    while (put < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + put, bytes.size() - put);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            return errno_text("cannot write " + path, err);
        }
        put += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        const int err = errno;
        ::close(fd);
        return errno_text("cannot fsync " + path, err);
    }
    if (::close(fd) != 0) return errno_text("cannot close " + path, errno);
    return std::nullopt;
}

std::optional<std::string> fsync_directory(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno_text("cannot open the directory " + dir, errno);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return errno_text("cannot fsync the directory " + dir, err);
    return std::nullopt;
}

std::string read_text(const std::string& path, std::size_t max_bytes, std::string& why) {
    auto r = read_whole(path, max_bytes);
    if (const auto* b = std::get_if<std::vector<std::uint8_t>>(&r)) return std::string(b->begin(), b->end());
    why = std::holds_alternative<missing_file>(r) ? "missing" : std::get<std::string>(r);
    return {};
}

std::string directory_of(const std::string& path) {
    const std::filesystem::path p(path);
    return p.has_parent_path() ? p.parent_path().string() : ".";
}

std::optional<std::string> replace_file(const std::string& path, std::span<const std::uint8_t> bytes) {
    const std::string tmp = path + ".tmp";
    auto err = write_synced(tmp, bytes);
    if (!err && ::rename(tmp.c_str(), path.c_str()) != 0) err = errno_text(fmt::format("cannot rename {} to {}", tmp, path), errno);
    if (err) {
        ::unlink(tmp.c_str());
        return err;
    }
    return fsync_directory(directory_of(path));
}

}  // namespace cg::control
