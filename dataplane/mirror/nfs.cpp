#include "dataplane/mirror/nfs.hpp"

#include <algorithm>

#include "dataplane/mirror/xdr.hpp"

namespace cg::dp::mirror {

namespace {

using bytes_view = std::span<const std::uint8_t>;

constexpr std::uint32_t rpc_call = 0, rpc_reply = 1;
constexpr std::uint32_t auth_sys = 1, rpcsec_gss = 6;
constexpr std::uint32_t max_auth = 400;
constexpr std::uint32_t max_machinename = 255, max_gids = 16;  // RFC 5531 appendix A
constexpr std::uint32_t mnt_path_len = 1024, mnt_name_len = 255;
constexpr std::uint32_t gss_data = 0, gss_init = 1, gss_continue_init = 2;
constexpr std::uint32_t gss_svc_integrity = 2, gss_svc_privacy = 3;
constexpr std::uint32_t nfs_ok = 0;
constexpr std::size_t nfs3_fattr_len = 84, nfs3_wcc_attr_len = 24, verifier_len = 8, stateid_len = 16;
constexpr std::size_t sessionid_len = 16, deviceid_len = 16, nfs4_time_len = 12;

/// One record's parse: the reader, the message, and how far it got.
class parser {
public:
    parser(bytes_view b, std::uint32_t total_len, app_message& m) noexcept
        : r(b), m(m), _whole(b.size() >= total_len) {
        m = app_message{};
        m.len = total_len;
    }

    /// The outcome: the first error set, or the reader's, or nullopt. A
    /// record held by its prefix that ran out after its fields is a success.
    std::optional<rpc_error> result(bool ok) const noexcept {
        if (ok) return std::nullopt;
        if (_err) return _err;
        switch (r.error()) {
        case xdr_error::too_long: return rpc_error::bad_length;
        case xdr_error::bad_bool: return rpc_error::bad_value;
        case xdr_error::truncated:
        case xdr_error::none: break;
        }
        if (_whole) return rpc_error::truncated;
        return enough ? std::nullopt : std::optional{rpc_error::prefix_too_short};
    }

    bool fail(rpc_error e) noexcept {
        if (!_err) _err = e;
        return false;
    }

    // ---- XDR shapes shared by the programs ----

    bool u32(std::uint32_t& v) noexcept { return r.u32(v); }
    bool u64(std::uint64_t& v) noexcept { return r.u64(v); }
    bool word() noexcept { return r.skip(4); }
    bool hyper() noexcept { return r.skip(8); }
    bool boolean() noexcept {
        bool b;
        return r.boolean(b);
    }
    bool string(std::uint32_t max = UINT32_MAX) noexcept { return r.skip_opaque(max); }
    /// An enum or union discriminant that must be at most `max`.
    bool enum_at_most(std::uint32_t& v, std::uint32_t max) noexcept {
        if (!u32(v)) return false;
        return v <= max || fail(rpc_error::bad_value);
    }
    /// A file handle; the message's when it is the first `named` one
    /// (an empty handle counts: a later one is not taken for it).
    bool fh(std::uint32_t max, bool named) noexcept {
        bytes_view h;
        if (!r.opaque(h, max)) return false;
        if (named && !_fh_taken) {
            m.fh.len = static_cast<std::uint8_t>(h.size());
            std::copy(h.begin(), h.end(), m.fh.b.begin());
            _fh_taken = true;
        }
        return true;
    }
    /// opaque_auth (flavor, body<400>); `body` views the body.
    bool opaque_auth(std::uint32_t& flavor, bytes_view& body) noexcept {
        if (!u32(flavor)) return false;
        if (!r.opaque(body, max_auth)) return r.error() == xdr_error::too_long ? fail(rpc_error::bad_auth) : false;
        return true;
    }
    /// authsys_parms (RFC 5531 appendix A), by itself or inside a credential.
    static bool authsys_parms(xdr_reader& a) noexcept {
        std::uint32_t gids = 0;
        return a.skip(4) && a.skip_opaque(max_machinename) && a.skip(8) && a.count(gids, 4, max_gids) &&
               a.skip_words(gids);
    }

    xdr_reader r;
    app_message& m;
    bool enough = false;  ///< the message's own fields are read: a prefix may end from here on

private:
    bool _whole;
    bool _fh_taken = false;
    std::optional<rpc_error> _err;
};

app_proto proto_of(std::uint32_t prog, std::uint32_t vers) noexcept {
    if (prog == rpc_prog_nfs && vers == 3) return app_proto::nfs3;
    if (prog == rpc_prog_nfs && vers == 4) return app_proto::nfs4;
    if (prog == rpc_prog_mount && vers == 3) return app_proto::mount3;
    return app_proto::rpc;
}

// ---- NFSv3 (RFC 1813) ---------------------------------------------------------

bool nfs3_fh(parser& p) noexcept { return p.fh(nfs3_fh_max, true); }
bool fattr3(parser& p) noexcept { return p.r.skip(nfs3_fattr_len); }
bool post_op_attr(parser& p) noexcept {
    bool follows = false;
    return p.r.boolean(follows) && (!follows || fattr3(p));
}
bool wcc_data(parser& p) noexcept {
    bool pre = false;
    return p.r.boolean(pre) && (!pre || p.r.skip(nfs3_wcc_attr_len)) && post_op_attr(p);
}
/// A post_op_fh3: the message's handle when `named` (a CREATE's), not when
/// it is a directory entry's (READDIRPLUS).
bool post_op_fh3(parser& p, bool named) noexcept {
    bool follows = false;
    return p.r.boolean(follows) && (!follows || p.fh(nfs3_fh_max, named));
}
/// set_mode3 / set_uid3 / set_gid3 (a bool and a word) and set_size3 (a bool and a hyper).
bool optional_value(parser& p, std::size_t len) noexcept {
    bool set = false;
    return p.r.boolean(set) && (!set || p.r.skip(len));
}
/// set_atime / set_mtime: DONT_CHANGE, SET_TO_SERVER_TIME, or SET_TO_CLIENT_TIME with an nfstime3.
bool set_time(parser& p) noexcept {
    std::uint32_t how = 0;
    return p.enum_at_most(how, 2) && (how != 2 || p.hyper());
}
bool sattr3(parser& p) noexcept {
    return optional_value(p, 4) && optional_value(p, 4) && optional_value(p, 4) && optional_value(p, 8) &&
           set_time(p) && set_time(p);
}
bool diropargs3(parser& p) noexcept { return nfs3_fh(p) && p.string(); }

bool nfs3_call(parser& p) noexcept {
    app_message& m = p.m;
    const auto fh_then_enough = [&] { return nfs3_fh(p) && (p.enough = true); };
    switch (m.procedure) {
    case nfs3::null: return p.enough = true;
    case nfs3::getattr:
    case nfs3::readlink:
    case nfs3::fsstat:
    case nfs3::fsinfo:
    case nfs3::pathconf: return fh_then_enough();
    case nfs3::setattr: return fh_then_enough() && sattr3(p) && optional_value(p, 8);
    case nfs3::lookup:
    case nfs3::remove:
    case nfs3::rmdir: return fh_then_enough() && p.string();
    case nfs3::access: return fh_then_enough() && p.word();
    case nfs3::read:
    case nfs3::commit: return nfs3_fh(p) && p.u64(m.offset) && p.u32(m.count) && (p.enough = true);
    case nfs3::write: {
        std::uint32_t stable = 0, data = 0;
        if (!(nfs3_fh(p) && p.u64(m.offset) && p.u32(m.count) && p.enum_at_most(stable, 2))) return false;
        m.stable = static_cast<std::uint8_t>(stable);
        p.enough = true;
        return p.u32(data) && p.r.skip(data);
    }
    case nfs3::create: {
        std::uint32_t mode = 0;  // UNCHECKED, GUARDED: sattr3; EXCLUSIVE: createverf3
        return fh_then_enough() && p.string() && p.enum_at_most(mode, 2) &&
               (mode == 2 ? p.r.skip(verifier_len) : sattr3(p));
    }
    case nfs3::mkdir: return fh_then_enough() && p.string() && sattr3(p);
    case nfs3::symlink: return fh_then_enough() && p.string() && sattr3(p) && p.string();
    case nfs3::mknod: {
        std::uint32_t type = 0;  // ftype3: CHR and BLK carry devicedata3, SOCK and FIFO a sattr3
        if (!(fh_then_enough() && p.string() && p.u32(type))) return false;
        if (type == 3 || type == 4) return sattr3(p) && p.hyper();
        if (type == 6 || type == 7) return sattr3(p);
        return (type >= 1 && type <= 5) || p.fail(rpc_error::bad_value);
    }
    case nfs3::rename: return fh_then_enough() && p.string() && diropargs3(p);
    case nfs3::link: return fh_then_enough() && diropargs3(p);
    case nfs3::readdir: return fh_then_enough() && p.hyper() && p.r.skip(verifier_len) && p.word();
    case nfs3::readdirplus: return fh_then_enough() && p.hyper() && p.r.skip(verifier_len) && p.word() && p.word();
    default: return p.fail(rpc_error::unknown_procedure);
    }
}

/// READDIR's and READDIRPLUS's entry lists, up to and with eof.
bool dir_entries(parser& p, bool plus) noexcept {
    bool follows = false;
    while (p.r.boolean(follows) && follows) {
        if (!(p.hyper() && p.string() && p.hyper())) return false;
        if (plus && !(post_op_attr(p) && post_op_fh3(p, false))) return false;
    }
    return p.r.ok() && p.boolean();
}

bool nfs3_reply(parser& p) noexcept {
    app_message& m = p.m;
    if (m.procedure == nfs3::null) return p.enough = true;
    if (m.procedure > nfs3::commit) return p.fail(rpc_error::unknown_procedure);
    if (!p.u32(m.status)) return false;
    const bool ok = m.status == nfs_ok;
    switch (m.procedure) {
    case nfs3::getattr: return (p.enough = true) && (!ok || fattr3(p));
    case nfs3::setattr:
    case nfs3::remove:
    case nfs3::rmdir: return (p.enough = true) && wcc_data(p);
    case nfs3::lookup:
        if (!ok) return (p.enough = true) && post_op_attr(p);
        return nfs3_fh(p) && (p.enough = true) && post_op_attr(p) && post_op_attr(p);
    case nfs3::access: return (p.enough = true) && post_op_attr(p) && (!ok || p.word());
    case nfs3::readlink: return (p.enough = true) && post_op_attr(p) && (!ok || p.string());
    case nfs3::read: {
        if (!post_op_attr(p)) return false;
        if (!ok) return p.enough = true;
        std::uint32_t data = 0;
        return p.u32(m.count) && p.boolean() && (p.enough = true) && p.u32(data) && p.r.skip(data);
    }
    case nfs3::write: {
        std::uint32_t committed = 0;
        if (!wcc_data(p)) return false;
        if (!ok) return p.enough = true;
        if (!(p.u32(m.count) && p.enum_at_most(committed, 2))) return false;
        m.stable = static_cast<std::uint8_t>(committed);
        return (p.enough = true) && p.r.skip(verifier_len);
    }
    case nfs3::create:
    case nfs3::mkdir:
    case nfs3::symlink:
    case nfs3::mknod:
        if (!ok) return (p.enough = true) && wcc_data(p);
        return post_op_fh3(p, true) && (p.enough = true) && post_op_attr(p) && wcc_data(p);
    case nfs3::rename: return (p.enough = true) && wcc_data(p) && wcc_data(p);
    case nfs3::link: return (p.enough = true) && post_op_attr(p) && wcc_data(p);
    case nfs3::readdir:
    case nfs3::readdirplus:
        return (p.enough = true) && post_op_attr(p) &&
               (!ok || (p.r.skip(verifier_len) && dir_entries(p, m.procedure == nfs3::readdirplus)));
    case nfs3::fsstat: return (p.enough = true) && post_op_attr(p) && (!ok || p.r.skip(6 * 8 + 4));
    case nfs3::fsinfo: return (p.enough = true) && post_op_attr(p) && (!ok || p.r.skip(7 * 4 + 8 + 8 + 4));
    case nfs3::pathconf:
        return (p.enough = true) && post_op_attr(p) &&
               (!ok || (p.word() && p.word() && p.boolean() && p.boolean() && p.boolean() && p.boolean()));
    case nfs3::commit: return (p.enough = true) && wcc_data(p) && (!ok || p.r.skip(verifier_len));
    default: return p.fail(rpc_error::unknown_procedure);
    }
}

// ---- MOUNT3 (RFC 1813 appendix I) ---------------------------------------------------

bool mount3_call(parser& p) noexcept {
    switch (p.m.procedure) {
    case mount3::null:
    case mount3::dump:
    case mount3::umntall:
    case mount3::export_: return p.enough = true;
    case mount3::mnt:
    case mount3::umnt: return (p.enough = true) && p.string(mnt_path_len);
    default: return p.fail(rpc_error::unknown_procedure);
    }
}

bool mount3_reply(parser& p) noexcept {
    app_message& m = p.m;
    bool follows = false;
    switch (m.procedure) {
    case mount3::null:
    case mount3::umnt:
    case mount3::umntall: return p.enough = true;
    case mount3::mnt: {
        if (!p.u32(m.status)) return false;
        if (m.status != 0) return p.enough = true;
        std::uint32_t flavors = 0;
        return p.fh(nfs3_fh_max, true) && (p.enough = true) && p.r.count(flavors, 4) && p.r.skip_words(flavors);
    }
    case mount3::dump:
        p.enough = true;
        while (p.r.boolean(follows) && follows)
            if (!(p.string(mnt_name_len) && p.string(mnt_path_len))) return false;
        return p.r.ok();
    case mount3::export_:
        p.enough = true;
        while (p.r.boolean(follows) && follows) {
            if (!p.string(mnt_path_len)) return false;
            bool group = false;
            while (p.r.boolean(group) && group)
                if (!p.string(mnt_name_len)) return false;
            if (!p.r.ok()) return false;
        }
        return p.r.ok();
    default: return p.fail(rpc_error::unknown_procedure);
    }
}

// ---- NFSv4.x COMPOUND (RFC 7530, 8881, 7862) -------------------------------------------

bool stateid(parser& p) noexcept { return p.r.skip(stateid_len); }
bool bitmap4(parser& p) noexcept {
    std::uint32_t n = 0;
    return p.r.count(n, 4) && p.r.skip_words(n);
}
bool fattr4(parser& p) noexcept { return bitmap4(p) && p.string(); }
bool change_info4(parser& p) noexcept { return p.boolean() && p.hyper() && p.hyper(); }
bool lock_owner4(parser& p) noexcept { return p.hyper() && p.string(); }
bool netaddr4(parser& p) noexcept { return p.string() && p.string(); }
bool channel_attrs4(parser& p) noexcept {
    std::uint32_t ird = 0;
    return p.r.skip(6 * 4) && p.r.count(ird, 4, 1) && p.r.skip_words(ird);
}
bool nfs_impl_id4(parser& p) noexcept {  // nfs_impl_id4<1>
    std::uint32_t n = 0;
    return p.r.count(n, 4, 1) && (n == 0 || (p.string() && p.string() && p.r.skip(nfs4_time_len)));
}
bool state_protect_ops4(parser& p) noexcept { return bitmap4(p) && bitmap4(p); }
/// An array of opaques (sec_oid4<>, gsshandle4_t<>).
bool opaque_list(parser& p) noexcept {
    std::uint32_t n = 0;
    if (!p.r.count(n, 4)) return false;
    for (std::uint32_t i = 0; i < n; ++i)
        if (!p.string()) return false;
    return true;
}
bool callback_sec_parms(parser& p) noexcept {  // callback_sec_parms4<>
    std::uint32_t n = 0;
    if (!p.r.count(n, 4)) return false;
    for (std::uint32_t i = 0; i < n; ++i) {
        std::uint32_t flavor = 0;
        if (!p.u32(flavor)) return false;
        if (flavor == auth_sys) {
            if (!parser::authsys_parms(p.r)) return false;
        } else if (flavor == rpcsec_gss) {
            if (!(p.word() && p.string() && p.string())) return false;
        } else if (flavor != 0) {
            return p.fail(rpc_error::bad_value);
        }
    }
    return true;
}
bool secinfo_list(parser& p) noexcept {  // SECINFO4resok
    std::uint32_t n = 0;
    if (!p.r.count(n, 4)) return false;
    for (std::uint32_t i = 0; i < n; ++i) {
        std::uint32_t flavor = 0;
        if (!p.u32(flavor)) return false;
        if (flavor == rpcsec_gss && !(p.string() && p.word() && p.word())) return false;
    }
    return true;
}

/// What decoding one operation's arguments or result found.
enum class op_step : std::uint8_t { next, stop, error };
op_step step(bool ok) noexcept { return ok ? op_step::next : op_step::error; }

/// Reads fields that go into the message: a prefix that ends inside them is
/// too short, one that ends inside other operations is not (the
/// COMPOUND's ops are listed as far as the prefix goes).
template <class Read>
bool message_field(parser& p, Read read) noexcept {
    p.enough = false;
    if (!read()) return false;
    p.enough = true;
    return true;
}

/// The first PUTFH (a reply: GETFH) names the message's handle and the
/// first READ, WRITE or COMMIT its range: so a COMPOUND held by its prefix
/// says the same as the whole one, or less.
struct compound_state {
    bool io_seen = false;
};

op_step nfs4_arg(parser& p, std::uint32_t op, compound_state& st) noexcept {
    app_message& m = p.m;
    std::uint32_t v = 0;
    switch (op) {
    case nfs4::getfh:
    case nfs4::lookupp:
    case nfs4::putpubfh:
    case nfs4::putrootfh:
    case nfs4::readlink:
    case nfs4::restorefh:
    case nfs4::savefh:
    case nfs4::illegal: return op_step::next;
    case nfs4::access:
    case nfs4::secinfo_no_name: return step(p.word());
    case nfs4::close: return step(p.word() && stateid(p));
    case nfs4::commit: {
        std::uint64_t off = 0;
        std::uint32_t cnt = 0;
        if (!message_field(p, [&] { return p.u64(off) && p.u32(cnt); })) return op_step::error;
        if (!st.io_seen) m.offset = off, m.count = cnt, st.io_seen = true;
        return op_step::next;
    }
    case nfs4::create:
        if (!p.u32(v)) return op_step::error;  // createtype4: NF4LNK a link, NF4BLK/NF4CHR a specdata4
        if (v == 5 && !p.string()) return op_step::error;
        if ((v == 3 || v == 4) && !p.hyper()) return op_step::error;
        return step(p.string() && fattr4(p));
    case nfs4::delegpurge:
    case nfs4::renew:
    case nfs4::destroy_clientid: return step(p.hyper());
    case nfs4::delegreturn:
    case nfs4::free_stateid:
    case nfs4::offload_cancel:
    case nfs4::offload_status: return step(stateid(p));
    case nfs4::getattr: return step(bitmap4(p));
    case nfs4::link:
    case nfs4::lookup:
    case nfs4::remove:
    case nfs4::secinfo: return step(p.string());
    case nfs4::lock: {
        bool new_owner = false;
        if (!(p.word() && p.boolean() && p.hyper() && p.hyper() && p.r.boolean(new_owner))) return op_step::error;
        return step(new_owner ? p.word() && stateid(p) && p.word() && lock_owner4(p) : stateid(p) && p.word());
    }
    case nfs4::lockt: return step(p.word() && p.hyper() && p.hyper() && lock_owner4(p));
    case nfs4::locku: return step(p.word() && p.word() && stateid(p) && p.hyper() && p.hyper());
    case nfs4::nverify:
    case nfs4::verify: return step(fattr4(p));
    case nfs4::open: {
        if (!(p.word() && p.word() && p.word() && lock_owner4(p) && p.enum_at_most(v, 1))) return op_step::error;
        if (v == 1) {  // OPEN4_CREATE: createhow4
            std::uint32_t how = 0;
            if (!p.enum_at_most(how, 3)) return op_step::error;
            if (how <= 1 && !fattr4(p)) return op_step::error;
            if (how >= 2 && !p.r.skip(verifier_len)) return op_step::error;
            if (how == 3 && !fattr4(p)) return op_step::error;
        }
        std::uint32_t claim = 0;  // open_claim4
        if (!p.enum_at_most(claim, 6)) return op_step::error;
        switch (claim) {
        case 0:
        case 3: return step(p.string());
        case 1: return step(p.word());
        case 2: return step(stateid(p) && p.string());
        case 5: return step(stateid(p));
        default: return op_step::next;
        }
    }
    case nfs4::openattr:
    case nfs4::reclaim_complete: return step(p.boolean());
    case nfs4::open_confirm: return step(stateid(p) && p.word());
    case nfs4::open_downgrade: return step(stateid(p) && p.word() && p.word() && p.word());
    case nfs4::putfh: return step(message_field(p, [&] { return p.fh(nfs4_fh_max, true); }));
    case nfs4::read: {
        std::uint64_t off = 0;
        std::uint32_t cnt = 0;
        if (!message_field(p, [&] { return stateid(p) && p.u64(off) && p.u32(cnt); })) return op_step::error;
        if (!st.io_seen) m.offset = off, m.count = cnt, st.io_seen = true;
        return op_step::next;
    }
    case nfs4::write: {
        std::uint64_t off = 0;
        std::uint32_t stable = 0, data = 0;
        if (!message_field(p, [&] { return stateid(p) && p.u64(off) && p.enum_at_most(stable, 2) && p.u32(data); }))
            return op_step::error;
        if (!st.io_seen) {
            m.offset = off, m.count = data, m.stable = static_cast<std::uint8_t>(stable);
            st.io_seen = true;
        }
        return step(p.r.skip(data));  // the data may lie past a prefix
    }
    case nfs4::readdir: return step(p.hyper() && p.r.skip(verifier_len) && p.word() && p.word() && bitmap4(p));
    case nfs4::rename: return step(p.string() && p.string());
    case nfs4::setattr: return step(stateid(p) && fattr4(p));
    case nfs4::setclientid: return step(p.r.skip(verifier_len) && p.string() && p.word() && netaddr4(p) && p.word());
    case nfs4::setclientid_confirm: return step(p.hyper() && p.r.skip(verifier_len));
    case nfs4::release_lockowner: return step(lock_owner4(p));
    case nfs4::backchannel_ctl: return step(p.word() && callback_sec_parms(p));
    case nfs4::bind_conn_to_session: return step(p.r.skip(sessionid_len) && p.word() && p.boolean());
    case nfs4::exchange_id: {
        std::uint32_t how = 0;
        if (!(p.r.skip(verifier_len) && p.string() && p.word() && p.enum_at_most(how, 2))) return op_step::error;
        if (how == 1 && !state_protect_ops4(p)) return op_step::error;
        if (how == 2 && !(state_protect_ops4(p) && opaque_list(p) && opaque_list(p) && p.word() && p.word()))
            return op_step::error;
        return step(nfs_impl_id4(p));
    }
    case nfs4::create_session:
        return step(p.hyper() && p.word() && p.word() && channel_attrs4(p) && channel_attrs4(p) && p.word() &&
                    callback_sec_parms(p));
    case nfs4::destroy_session: return step(p.r.skip(sessionid_len));
    case nfs4::getdeviceinfo: return step(p.r.skip(deviceid_len) && p.word() && p.word() && bitmap4(p));
    case nfs4::getdevicelist: return step(p.word() && p.word() && p.hyper() && p.r.skip(verifier_len));
    case nfs4::layoutget:
        return step(p.boolean() && p.word() && p.word() && p.hyper() && p.hyper() && p.hyper() && stateid(p) &&
                    p.word());
    case nfs4::sequence: return step(p.r.skip(sessionid_len) && p.word() && p.word() && p.word() && p.boolean());
    case nfs4::test_stateid: {
        std::uint32_t n = 0;
        return step(p.r.count(n, stateid_len) && p.r.skip(std::size_t{n} * stateid_len));
    }
    case nfs4::allocate:
    case nfs4::deallocate: return step(stateid(p) && p.hyper() && p.hyper());
    case nfs4::seek: return step(stateid(p) && p.hyper() && p.word());
    case nfs4::io_advise: return step(stateid(p) && p.hyper() && p.hyper() && bitmap4(p));
    case nfs4::clone: return step(stateid(p) && stateid(p) && p.hyper() && p.hyper() && p.hyper());
    default: return op_step::stop;  // not decoded here: the ops after it are not listed
    }
}

bool open_delegation4(parser& p) noexcept {
    std::uint32_t type = 0;
    if (!p.enum_at_most(type, 3)) return false;
    const auto nfsace4 = [&] { return p.word() && p.word() && p.word() && p.string(); };
    switch (type) {
    case 1: return stateid(p) && p.boolean() && nfsace4();
    case 2: {
        std::uint32_t limitby = 0;
        if (!(stateid(p) && p.boolean() && p.u32(limitby))) return false;
        if (limitby != 1 && limitby != 2) return p.fail(rpc_error::bad_value);
        return p.hyper() && nfsace4();  // NFS_LIMIT_SIZE: a hyper; NFS_LIMIT_BLOCKS: two words
    }
    case 3: {
        std::uint32_t why = 0;
        return p.u32(why) && (why < 7 || why > 8 || p.boolean());
    }
    default: return true;
    }
}

op_step nfs4_result(parser& p, std::uint32_t op, compound_state& st) noexcept {
    app_message& m = p.m;
    switch (op) {
    case nfs4::delegpurge:
    case nfs4::delegreturn:
    case nfs4::lockt:
    case nfs4::lookup:
    case nfs4::lookupp:
    case nfs4::nverify:
    case nfs4::openattr:
    case nfs4::putfh:
    case nfs4::putpubfh:
    case nfs4::putrootfh:
    case nfs4::renew:
    case nfs4::restorefh:
    case nfs4::savefh:
    case nfs4::setclientid_confirm:
    case nfs4::verify:
    case nfs4::release_lockowner:
    case nfs4::backchannel_ctl:
    case nfs4::destroy_session:
    case nfs4::free_stateid:
    case nfs4::destroy_clientid:
    case nfs4::reclaim_complete:
    case nfs4::allocate:
    case nfs4::deallocate:
    case nfs4::offload_cancel:
    case nfs4::clone:
    case nfs4::illegal: return op_step::next;
    case nfs4::access: return step(p.word() && p.word());
    case nfs4::close:
    case nfs4::lock:
    case nfs4::locku:
    case nfs4::open_confirm:
    case nfs4::open_downgrade: return step(stateid(p));
    case nfs4::commit: return step(p.r.skip(verifier_len));
    case nfs4::create: return step(change_info4(p) && bitmap4(p));
    case nfs4::getattr: return step(fattr4(p));
    case nfs4::getfh: return step(message_field(p, [&] { return p.fh(nfs4_fh_max, true); }));
    case nfs4::link:
    case nfs4::remove: return step(change_info4(p));
    case nfs4::open: return step(stateid(p) && change_info4(p) && p.word() && bitmap4(p) && open_delegation4(p));
    case nfs4::read: {
        std::uint32_t data = 0;
        if (!message_field(p, [&] { return p.boolean() && p.u32(data); })) return op_step::error;
        if (!st.io_seen) m.count = data, st.io_seen = true;
        return step(p.r.skip(data));
    }
    case nfs4::readdir: {
        bool follows = false;
        if (!p.r.skip(verifier_len)) return op_step::error;
        while (p.r.boolean(follows) && follows)
            if (!(p.hyper() && p.string() && fattr4(p))) return op_step::error;
        return step(p.r.ok() && p.boolean());
    }
    case nfs4::readlink: return step(p.string());
    case nfs4::rename: return step(change_info4(p) && change_info4(p));
    case nfs4::secinfo:
    case nfs4::secinfo_no_name: return step(secinfo_list(p));
    case nfs4::setattr: return step(bitmap4(p));
    case nfs4::setclientid: return step(p.hyper() && p.r.skip(verifier_len));
    case nfs4::write: {
        std::uint32_t cnt = 0, committed = 0;
        if (!message_field(p, [&] { return p.u32(cnt) && p.enum_at_most(committed, 2); })) return op_step::error;
        if (!st.io_seen) {
            m.count = cnt, m.stable = static_cast<std::uint8_t>(committed);
            st.io_seen = true;
        }
        return step(p.r.skip(verifier_len));
    }
    case nfs4::bind_conn_to_session: return step(p.r.skip(sessionid_len) && p.word() && p.boolean());
    case nfs4::exchange_id: {
        std::uint32_t how = 0;
        if (!(p.hyper() && p.word() && p.word() && p.enum_at_most(how, 2))) return op_step::error;
        if (how == 1 && !state_protect_ops4(p)) return op_step::error;
        if (how == 2 && !(state_protect_ops4(p) && p.r.skip(4 * 4) && opaque_list(p))) return op_step::error;
        return step(p.hyper() && p.string() && p.string() && nfs_impl_id4(p));
    }
    case nfs4::create_session:
        return step(p.r.skip(sessionid_len) && p.word() && p.word() && channel_attrs4(p) && channel_attrs4(p));
    case nfs4::sequence: return step(p.r.skip(sessionid_len) && p.r.skip(5 * 4));
    case nfs4::test_stateid: {
        std::uint32_t n = 0;
        return step(p.r.count(n, 4) && p.r.skip_words(n));
    }
    case nfs4::seek: return step(p.boolean() && p.hyper());
    default: return op_step::stop;
    }
}

void note_op(app_message& m, std::size_t i, std::uint32_t op) noexcept {
    if (i < app_message::max_ops) m.ops[i] = static_cast<std::uint16_t>(std::min<std::uint32_t>(op, 0xffff));
}

bool nfs4_call(parser& p) noexcept {
    app_message& m = p.m;
    if (m.procedure == nfs4::null) return p.enough = true;
    if (m.procedure != nfs4::compound) return p.fail(rpc_error::unknown_procedure);
    std::uint32_t numops = 0;
    if (!(p.string() && p.word() && p.r.count(numops, 0))) return false;  // tag, minorversion, argarray<>
    m.n_ops = static_cast<std::uint16_t>(std::min<std::uint32_t>(numops, 0xffff));
    p.enough = true;
    compound_state st;
    for (std::uint32_t i = 0; i < numops; ++i) {
        std::uint32_t op = 0;
        if (!p.u32(op)) return false;
        note_op(m, i, op);
        const op_step s = nfs4_arg(p, op, st);
        if (s == op_step::error) return false;
        if (s == op_step::stop) return true;
    }
    return true;
}

bool nfs4_reply(parser& p) noexcept {
    app_message& m = p.m;
    if (m.procedure == nfs4::null) return p.enough = true;
    if (m.procedure != nfs4::compound) return p.fail(rpc_error::unknown_procedure);
    std::uint32_t numres = 0;
    if (!(p.u32(m.status) && p.string() && p.r.count(numres, 0))) return false;
    m.n_ops = static_cast<std::uint16_t>(std::min<std::uint32_t>(numres, 0xffff));
    p.enough = true;
    compound_state st;
    for (std::uint32_t i = 0; i < numres; ++i) {
        std::uint32_t op = 0, status = 0;
        if (!p.u32(op)) return false;
        note_op(m, i, op);
        if (!p.u32(status)) return false;
        if (status != nfs_ok) return true;  // a failed op ends the COMPOUND; its error body is not read
        const op_step s = nfs4_result(p, op, st);
        if (s == op_step::error) return false;
        if (s == op_step::stop) return true;
    }
    return true;
}

// ---- ONC RPC (RFC 5531) -------------------------------------------------------------

/// RPCSEC_GSS integrity: the arguments or results are an opaque
/// databody_integ (sequence number, then the body) followed by a checksum.
/// Returns where the body ends, after reading the length and sequence number.
bool gss_integ_open(parser& p, std::size_t& body_end) noexcept {
    std::uint32_t len = 0;
    if (!p.u32(len)) return false;
    if (len < 4) return p.fail(rpc_error::bad_length);
    body_end = p.r.offset() + len;
    return p.word();
}
bool gss_integ_close(parser& p, bool body_ok, std::size_t body_end) noexcept {
    if (!body_ok) return false;
    if (p.r.offset() > body_end) return p.fail(rpc_error::bad_length);
    return p.r.skip(body_end - p.r.offset()) && p.string(max_auth);
}

template <class Body>
bool with_gss(parser& p, std::uint32_t service, Body body) noexcept {
    if (service == gss_svc_privacy) return p.fail(rpc_error::body_encrypted);
    if (service != gss_svc_integrity) return body();
    std::size_t end = 0;
    if (!gss_integ_open(p, end)) return false;
    return gss_integ_close(p, body(), end);
}

bool call(parser& p, rpc_call_key& key) noexcept {
    app_message& m = p.m;
    m.kind = msg_kind::call;
    std::uint32_t xid = 0, type = 0, rpcvers = 0, prog = 0, vers = 0;
    if (!(p.u32(xid) && p.u32(type))) return false;
    m.id = xid;
    if (type == rpc_reply) return p.fail(rpc_error::not_a_call);
    if (type != rpc_call) return p.fail(rpc_error::bad_msg_type);
    if (!p.u32(rpcvers)) return false;
    if (rpcvers != 2) return p.fail(rpc_error::bad_rpc_version);
    if (!(p.u32(prog) && p.u32(vers) && p.u32(m.procedure))) return false;
    m.proto = proto_of(prog, vers);
    key.proto = m.proto;
    key.procedure = m.procedure;

    std::uint32_t flavor = 0, verf_flavor = 0;
    bytes_view cred, verf;
    if (!p.opaque_auth(flavor, cred)) return false;
    std::uint32_t gss_proc = gss_data, service = 0;
    if (flavor == auth_sys) {
        xdr_reader a(cred);
        if (!parser::authsys_parms(a) || a.remaining() != 0) return p.fail(rpc_error::bad_auth);
    } else if (flavor == rpcsec_gss) {
        xdr_reader a(cred);  // rpc_gss_cred_vers_1_t: version, gss_proc, seq_num, service, handle
        std::uint32_t version = 0;
        if (!(a.u32(version) && a.u32(gss_proc) && a.skip(4) && a.u32(service) && a.skip_opaque()) || version != 1 ||
            service < 1 || service > 3 || a.remaining() != 0)
            return p.fail(rpc_error::bad_auth);
        key.gss_service = static_cast<std::uint8_t>(service);
    }
    if (!p.opaque_auth(verf_flavor, verf)) return false;

    // RPCSEC_GSS context creation carries a token (rpc_gss_init_arg), its
    // destruction nothing: not the program's arguments.
    if (gss_proc == gss_init || gss_proc == gss_continue_init) return (p.enough = true) && p.string();
    if (gss_proc != gss_data) return p.enough = true;
    return with_gss(p, service, [&] {
        switch (m.proto) {
        case app_proto::nfs3: return nfs3_call(p);
        case app_proto::mount3: return mount3_call(p);
        case app_proto::nfs4: return nfs4_call(p);
        default: return p.enough = true;
        }
    });
}

bool reply(parser& p, const rpc_call_key& call) noexcept {
    app_message& m = p.m;
    m.kind = msg_kind::reply;
    m.proto = call.proto;
    m.procedure = call.procedure;
    std::uint32_t xid = 0, type = 0, reply_stat = 0;
    if (!(p.u32(xid) && p.u32(type))) return false;
    m.id = xid;
    if (type == rpc_call) return p.fail(rpc_error::not_a_reply);
    if (type != rpc_reply) return p.fail(rpc_error::bad_msg_type);
    if (!p.u32(reply_stat)) return false;
    if (reply_stat == 1) {  // MSG_DENIED
        std::uint32_t reject_stat = 0;
        m.status = rpc_status_denied;
        if (!p.u32(reject_stat)) return false;
        if (reject_stat == 0) return p.word() && p.word() && (p.enough = true);  // RPC_MISMATCH: low, high
        if (reject_stat == 1) return p.word() && (p.enough = true);              // AUTH_ERROR: auth_stat
        return p.fail(rpc_error::bad_reply_stat);
    }
    if (reply_stat != 0) return p.fail(rpc_error::bad_reply_stat);
    std::uint32_t verf_flavor = 0;
    bytes_view verf;
    if (!(p.opaque_auth(verf_flavor, verf) && p.u32(m.status))) return false;
    switch (m.status) {
    case 0: break;
    case 2: return p.word() && p.word() && (p.enough = true);  // PROG_MISMATCH: low, high
    case 1:
    case 3:
    case 4:
    case 5: return p.enough = true;
    default: return p.fail(rpc_error::bad_reply_stat);
    }
    return with_gss(p, call.gss_service, [&] {
        switch (m.proto) {
        case app_proto::nfs3: return nfs3_reply(p);
        case app_proto::mount3: return mount3_reply(p);
        case app_proto::nfs4: return nfs4_reply(p);
        default: return p.enough = true;
        }
    });
}

}  // namespace

std::optional<rpc_error> peek_rpc(std::span<const std::uint8_t> record, std::uint32_t& xid, msg_kind& kind) noexcept {
    xdr_reader r(record);
    std::uint32_t type = 0;
    if (!(r.u32(xid) && r.u32(type))) return rpc_error::truncated;
    if (type > rpc_reply) return rpc_error::bad_msg_type;
    kind = type == rpc_call ? msg_kind::call : msg_kind::reply;
    return std::nullopt;
}

std::optional<rpc_error> parse_rpc_call(std::span<const std::uint8_t> record, std::uint32_t total_len,
                                        app_message& out, rpc_call_key* key) noexcept {
    parser p(record, total_len, out);
    rpc_call_key k;
    const bool ok = call(p, k);
    if (key) *key = k;
    return p.result(ok);
}

std::optional<rpc_error> parse_rpc_reply(std::span<const std::uint8_t> record, std::uint32_t total_len,
                                         const rpc_call_key& call, app_message& out) noexcept {
    parser p(record, total_len, out);
    return p.result(reply(p, call));
}

}  // namespace cg::dp::mirror
