// dp_adapter with real routers and no EAL: each "worker" is a router over
// its own table, driven by the test thread. Jobs run at once when posted,
// unless the test holds a worker's jobs (a worker that does not answer).
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "dataplane/ctl/dp_adapter.hpp"
#include "frames.hpp"
#include "test_worker.hpp"

namespace cg::test {

class fake_dataplane final : public dp::dp_adapter {
public:
    using worker = test_worker;

    fake_dataplane(std::size_t workers, std::uint32_t conns, std::uint32_t services, std::uint32_t nodes) {
        for (std::size_t i = 0; i < workers; ++i) _workers.push_back(std::make_unique<worker>(conns, services, nodes));
        _held.resize(workers);
        _held_jobs.resize(workers);
    }

    void publish(std::unique_ptr<dp::snapshot> s) override {
        _snap = std::move(s);
        ++publishes;
    }
    const dp::snapshot& current() const override { return *_snap; }
    std::size_t worker_count() const override { return _workers.size(); }
    const dp::worker_stats& stats(std::size_t w) const override { return _workers[w]->stats; }
    std::span<const dp::node_stats> nodes(std::size_t w) const override { return _workers[w]->nstats; }
    std::span<const dp::service_stats> services(std::size_t w) const override { return _workers[w]->sstats; }
    bool post_job(std::size_t w, std::shared_ptr<dp::worker_job> job) override {
        ++jobs_posted;
        if (_held[w]) {
            _held_jobs[w].push_back(std::move(job));
            return true;
        }
        dp::run_job(*job, _workers[w]->router, *_snap, now);
        return true;
    }
    std::optional<std::size_t> owner_of(std::uint32_t hash) const override {
        if (rss) return std::nullopt;
        return dp_adapter::owner_of(hash);
    }
    /// Worker `w` keeps the jobs posted to it from now on, without running them.
    void hold_jobs(std::size_t w) { _held[w] = true; }
    std::size_t held_jobs(std::size_t w) const { return _held_jobs[w].size(); }
    std::vector<dp::arp_learned> take_learned() override {
        std::vector<dp::arp_learned> out;
        for (auto& w : _workers) {
            for (const auto& l : w->router.learned()) out.push_back(l);
            w->router.clear_learned();
        }
        return out;
    }
    std::vector<common::api::port_view> port_views() const override {
        common::api::port_view p;
        p.name = "lan";
        p.device = "fake";
        return {p};
    }
    std::vector<common::api::lcore_view> lcore_views() const override { return {}; }
    std::uint32_t now_ms() const override { return now; }

    /// Routes a frame on worker `w` at the fake clock; returns the verdict.
    dp::verdict route(std::size_t w, bytes& f) {
        return _workers[w]->router.route(*_snap, f.data(), static_cast<std::uint32_t>(f.size()), 0, now);
    }
    void age(std::size_t w) { _workers[w]->router.age(*_snap, now); }
    worker& at(std::size_t w) { return *_workers[w]; }

    std::uint32_t now = 0;
    bool rss = false;  ///< flows spread by the "NIC": no software knows their worker
    int publishes = 0;
    int jobs_posted = 0;

private:
    std::vector<std::unique_ptr<worker>> _workers;
    std::vector<bool> _held;
    std::vector<std::vector<std::shared_ptr<dp::worker_job>>> _held_jobs;
    std::unique_ptr<dp::snapshot> _snap;
};

}  // namespace cg::test
