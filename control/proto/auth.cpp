#include "control/proto/auth.hpp"

#include <fstream>
#include <iterator>
#include <stdexcept>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace cg::control::auth {

key load_key(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot read the key file " + path);
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto first = s.find_first_not_of(" \t\r\n");
    const auto last = s.find_last_not_of(" \t\r\n");
    s = first == std::string::npos ? std::string{} : s.substr(first, last - first + 1);
    if (s.size() < min_key_size)
        throw std::runtime_error(fmt::format("the key in {} has {} bytes; at least {} are needed", path, s.size(),
                                             min_key_size));
    return key(s.begin(), s.end());
}

mac hmac(const key& k, std::span<const std::uint8_t> data) {
    mac out{};
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), k.data(), static_cast<int>(k.size()), data.data(), data.size(), out.data(), &len) ||
        len != mac_size)
        throw std::runtime_error("HMAC-SHA256 failed");
    return out;
}

void sign(std::vector<std::uint8_t>& out, const key& k) {
    const mac m = hmac(k, out);
    out.insert(out.end(), m.begin(), m.end());
}

bool verify(const key& k, std::span<const std::uint8_t> data, std::span<const std::uint8_t> m) {
    if (m.size() != mac_size) return false;
    const mac want = hmac(k, data);
    return CRYPTO_memcmp(want.data(), m.data(), mac_size) == 0;
}

std::optional<stale> check_fresh(position last, position got, std::uint64_t sent_ms, std::uint64_t now_ms,
                                 std::uint64_t max_skew_ms, std::string_view sender) {
    const std::uint64_t skew = sent_ms > now_ms ? sent_ms - now_ms : now_ms - sent_ms;
    if (skew > max_skew_ms)
        return stale{false, fmt::format("sent {} ms away from this clock (limit {} ms)", skew, max_skew_ms)};
    if (got <= last) {
        if (got.epoch == last.epoch)
            return stale{true, fmt::format("seq {} from {}, already at {}", got.seq, sender, last.seq)};
        return stale{true, fmt::format("epoch {} seq {} from {}, already at epoch {} seq {}", got.epoch, got.seq,
                                       sender, last.epoch, last.seq)};
    }
    return std::nullopt;
}

}  // namespace cg::control::auth
