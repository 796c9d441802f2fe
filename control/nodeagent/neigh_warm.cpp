#include "control/nodeagent/neigh_warm.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>

#include <fmt/format.h>

namespace cg::control {

namespace {

/// The kernel's NUD_VALID (net/neighbour.h, not in the uapi headers).
constexpr std::uint16_t nud_valid = NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY;

void close_nl(mnl_socket* s) {
    if (s) mnl_socket_close(s);
}

/// One request, one answer: calls `cb` on each message of the answer;
/// returns the kernel's error number (0: none) or -1 for a socket error.
int exchange(mnl_socket* nl, nlmsghdr* req, std::uint32_t seq, mnl_cb_t cb, void* data) {
    req->nlmsg_seq = seq;
    if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0) return -1;
    std::array<char, 8192> buf;
    const ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
    if (n < 0) return -1;
    const int r = mnl_cb_run(buf.data(), static_cast<std::size_t>(n), seq, mnl_socket_get_portid(nl), cb, data);
    return r < 0 ? errno : 0;
}

int on_route_attr(const nlattr* a, void* data) {
    auto* hop = static_cast<neigh_hop*>(data);
    if (mnl_attr_get_payload_len(a) < 4) return MNL_CB_OK;
    if (mnl_attr_get_type(a) == RTA_OIF) hop->ifindex = mnl_attr_get_u32(a);
    if (mnl_attr_get_type(a) == RTA_GATEWAY) hop->addr = ntohl(mnl_attr_get_u32(a));
    return MNL_CB_OK;
}

int on_route(const nlmsghdr* nlh, void* data) {
    return mnl_attr_parse(nlh, sizeof(rtmsg), on_route_attr, data);
}

int on_neigh(const nlmsghdr* nlh, void* data) {
    const auto* ndm = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(nlh));
    *static_cast<std::uint16_t*>(data) = ndm->ndm_state;
    return MNL_CB_OK;
}

nlmsghdr* neigh_msg(char* buf, std::uint16_t type, std::uint16_t flags, const neigh_hop& h, std::uint8_t ntf) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    auto* ndm = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
    ndm->ndm_family = AF_INET;
    ndm->ndm_ifindex = static_cast<int>(h.ifindex);
    ndm->ndm_flags = ntf;
    mnl_attr_put_u32(nlh, NDA_DST, htonl(h.addr));
    return nlh;
}

}  // namespace

neigh_warm::neigh_warm() : _nl(mnl_socket_open(NETLINK_ROUTE), close_nl) {
    if (_nl && mnl_socket_bind(_nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) _nl.reset();
}

neigh_warm::~neigh_warm() = default;

std::string neigh_warm::start(std::span<const common::ipv4_addr> clients) {
    _hops.clear();
    _pending.clear();
    if (!_nl) return "neighbour warm-up: no netlink socket";
    std::vector<common::ipv4_addr> todo(clients.begin(), clients.end());
    std::sort(todo.begin(), todo.end());
    todo.erase(std::unique(todo.begin(), todo.end()), todo.end());
    if (todo.size() > max_clients) todo.resize(max_clients);
    std::array<char, 512> buf;
    for (common::ipv4_addr c : todo) {
        nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
        nlh->nlmsg_type = RTM_GETROUTE;
        nlh->nlmsg_flags = NLM_F_REQUEST;
        auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
        rtm->rtm_family = AF_INET;
        rtm->rtm_dst_len = 32;
        mnl_attr_put_u32(nlh, RTA_DST, htonl(c));
        neigh_hop hop;
        const int err = exchange(_nl.get(), nlh, ++_seq, on_route, &hop);
        if (err == -1) return fmt::format("neighbour warm-up: route to {}: {}", common::format_ipv4(c), std::strerror(errno));
        if (err != 0 || hop.ifindex == 0) continue;  // no route: nothing to resolve
        if (hop.addr == 0) hop.addr = c;
        if (std::find(_hops.begin(), _hops.end(), hop) == _hops.end()) _hops.push_back(hop);
    }
    for (const neigh_hop& h : _hops) {
        nlmsghdr* nlh = neigh_msg(buf.data(), RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_ACK, h, NTF_USE);
        const int err = exchange(_nl.get(), nlh, ++_seq, nullptr, nullptr);
        if (err == -1) return fmt::format("neighbour warm-up: resolve {}: {}", common::format_ipv4(h.addr), std::strerror(errno));
        if (err == 0) _pending.push_back(h);  // refused (a device without ARP): nothing to wait for
    }
    return {};
}

bool neigh_warm::resolved() {
    std::array<char, 512> buf;
    std::erase_if(_pending, [&](const neigh_hop& h) {
        std::uint16_t state = 0;
        nlmsghdr* nlh = neigh_msg(buf.data(), RTM_GETNEIGH, 0, h, 0);
        const int err = exchange(_nl.get(), nlh, ++_seq, on_neigh, &state);
        // Gone, or unanswerable: nothing to wait for. NUD_VALID: REACHABLE, STALE, DELAY, PROBE, PERMANENT, NOARP.
        return err != 0 || (state & nud_valid) != 0 || (state & NUD_FAILED) != 0;
    });
    return _pending.empty();
}

}  // namespace cg::control
