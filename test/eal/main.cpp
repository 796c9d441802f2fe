// EAL tests: one EAL for the whole binary (it can be initialised once per
// process), without hugepages, with four lcores on the machine's two CPUs
// so that dispatch mode (main + dispatch + two workers) fits a 2-core box.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include <rte_eal.h>
#include <rte_errno.h>

int main(int argc, char** argv) {
    std::vector<std::string> args = {"eal_tests", "--lcores=0@0,1@1,2@0,3@1", "--no-huge", "-m", "768", "--no-pci",
                                     "--no-shconf", "--log-level=lib.eal:error"};
    std::vector<char*> argv_eal;
    for (auto& a : args) argv_eal.push_back(a.data());
    if (rte_eal_init(static_cast<int>(argv_eal.size()), argv_eal.data()) < 0) {
        std::fprintf(stderr, "eal_tests: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    const int rc = Catch::Session().run(argc, argv);
    rte_eal_cleanup();
    return rc;
}
