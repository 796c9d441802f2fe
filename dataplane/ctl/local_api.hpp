// The control API in process: the console of `gatewayd -i` calls the
// controller directly, with the same requests and replies as over the socket.
#pragma once

#include "common/api.hpp"
#include "dataplane/ctl/controller.hpp"

namespace cg::dp {

class local_api final : public common::api::api {
public:
    explicit local_api(controller& ctl) : _ctl(ctl) {}
    common::api::reply call(const common::api::request& r) override { return _ctl.handle(r); }

private:
    controller& _ctl;
};

}  // namespace cg::dp
