// The operator console (requirements 9.2, 9.3), testpmd-style, on DPDK's
// librte_cmdline (which needs no EAL): the same commands, help, completion
// and error messages in `gatewayd -i` (in-process api) and `gwctl` (api over
// the control socket), typed at a prompt or fed from a script.
//
// The rte_cmdline grammar is generated from the command tables of each area
// (command.hpp): one instance per command, plus one per optional argument
// left out, plus one that takes the option tail. The prompt runs its own
// rdline loop so that a line typed at the prompt goes through exactly the
// path of a script line: the same diagnostics ("error: bad arguments for add
// node: proto: ...") and the same failure counter, where rte_cmdline's own
// loop would print a bare "Bad arguments" and count nothing.
//
// Errors never escape into rte_cmdline's C code: every command is run inside
// one catch-all that prints "error: <message>" and counts a failure.
//
// Thread-safety: none; one thread drives a console. The api is called from
// that thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <set>
#include <string>
#include <unistd.h>

#include "command.hpp"

struct cmdline;
struct rdline;

namespace cg::cli {

class console {
public:
    /// `on_quit` runs when the operator leaves (`quit`, or end of input
    /// at the prompt). Output goes to `out_fd` (the terminal by default).
    /// Throws std::runtime_error if the grammar does not fit rte_cmdline's
    /// limits (a bug in a command table) or cannot be allocated.
    console(common::api::api& api, std::string prompt, std::function<void()> on_quit, int out_fd = STDOUT_FILENO);
    ~console();
    console(const console&) = delete;
    console& operator=(const console&) = delete;

    /// Prompt on stdin (raw terminal, history, TAB completion, `?` help)
    /// until `quit` or end of input. Returns 0, or -1 if the line editor
    /// cannot be created.
    int interact();

    /// Runs each line through the grammar, as if typed; blank lines and
    /// lines starting with '#' are skipped; stops after `quit`. With `echo`,
    /// each line is printed as "<prompt><line>" before its output. Returns
    /// the number of lines that failed.
    int run_script(std::istream& in, bool echo);

    /// Runs one command line. Returns true if it parsed and succeeded
    /// (a blank line succeeds); else an error has been printed and counted.
    bool run_line(const std::string& line);

    /// Lines that failed since construction (bad input or refused request).
    std::uint64_t failed() const { return _failed; }

private:
    struct grammar;
    struct binding;

    static void on_parsed(void* result, struct ::cmdline* cl, void* data);
    void dispatch(const binding& b, const char* result) noexcept;
    void execute(const binding& b, const char* result, std::string& out);
    void help(const std::string* word, std::string& out) const;
    void quit();
    void report_unparsed(const std::string& line, int why);
    void emit(std::string_view text) const;

    static int rdline_write(struct ::rdline* rdl, char c);
    static void rdline_validate(struct ::rdline* rdl, const char* buf, unsigned int size);
    static int rdline_complete(struct ::rdline* rdl, const char* buf, char* dst, unsigned int size, int* state);

    common::api::api& _api;
    std::string _prompt;
    std::function<void()> _on_quit;
    int _out_fd;
    std::unique_ptr<grammar> _grammar;
    struct ::cmdline* _parser = nullptr;  ///< parses and completes; prints nothing itself
    struct ::rdline* _rdl = nullptr;      ///< the prompt, while interact() runs
    std::set<std::string> _listed;         ///< choices shown by the completion in progress
    std::uint64_t _failed = 0;
    bool _last_ok = true;
    bool _quit = false;
};

}  // namespace cg::cli
