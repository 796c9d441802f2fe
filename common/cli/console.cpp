// rdline_new() and rdline_get_opaque() are marked experimental in DPDK 22.11
// (unchanged since 21.11); they are what lets the prompt share run_line().
#ifndef ALLOW_EXPERIMENTAL_API
#define ALLOW_EXPERIMENTAL_API
#endif

#include "console.hpp"

#include <cmdline.h>
#include <cmdline_parse.h>
#include <cmdline_parse_string.h>
#include <cmdline_rdline.h>
#include <fmt/format.h>
#include <termios.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <istream>
#include <stdexcept>

#include "table.hpp"

namespace cg::cli {

namespace {

// Layout of rte_cmdline's result buffer: fixed tokens (keywords, arguments)
// each in a cmdline_fixed_string_t at index * 128, the option tail in a
// cmdline_multi_string_t in the second half.
constexpr unsigned fixed_size = STR_TOKEN_SIZE;
constexpr unsigned tail_offset = STR_MULTI_TOKEN_SIZE;
constexpr std::size_t max_fixed_tokens = tail_offset / fixed_size;
static_assert(CMDLINE_PARSE_RESULT_BUFSIZE >= tail_offset + STR_MULTI_TOKEN_SIZE);
static_assert(max_word_length == STR_TOKEN_SIZE - 2);

struct free_deleter {
    void operator()(void* p) const { std::free(p); }
};

/// Keystrokes one by one, no echo by the terminal (rdline echoes), and
/// Ctrl-C clears the line instead of killing the gateway; as testpmd.
class raw_terminal {
public:
    explicit raw_terminal(int fd) : _fd(fd), _ok(tcgetattr(fd, &_saved) == 0) {
        if (!_ok) return;  // not a terminal (a pipe): nothing to change
        termios t = _saved;
        t.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ISIG);
        t.c_cc[VMIN] = 1;
        t.c_cc[VTIME] = 0;
        tcsetattr(fd, TCSANOW, &t);
    }
    ~raw_terminal() {
        if (_ok) tcsetattr(_fd, TCSANOW, &_saved);
    }
    raw_terminal(const raw_terminal&) = delete;
    raw_terminal& operator=(const raw_terminal&) = delete;

private:
    int _fd;
    termios _saved{};
    bool _ok;
};

std::vector<command> builtin_commands() {
    return {
        {{"help"}, {{"word", "", "only the commands that start with this word", true}}, {},
         "Lists the commands with their syntax; with a word, also what each argument means.", nullptr},
        {{"quit"}, {}, {}, "Leaves the console.", nullptr},
    };
}

void append_error(std::string& out, std::string_view message, const std::vector<std::string>& details) {
    out += fmt::format("error: {}\n", message);
    for (const std::string& d : details) out += fmt::format("  {}\n", d);
}

}  // namespace

/// What one rte_cmdline instance stands for.
struct console::binding {
    enum class action { run, help, quit };
    console* self;
    const command* cmd;
    std::size_t nargs;  ///< positional arguments this instance takes
    bool tail;          ///< ends in the option tail
    action what;
};

/// The generated rte_cmdline context and everything its C structures point
/// to; built once, never changed, so the pointers stay valid.
struct console::grammar {
    struct area {
        std::string_view name;
        std::vector<command> commands;
    };
    std::vector<area> areas;
    std::vector<const command*> all;
    std::deque<std::string> texts;  // NUL-terminated copies for C
    std::deque<cmdline_parse_token_string_t> tokens;
    std::deque<binding> bindings;
    std::vector<std::unique_ptr<cmdline_parse_inst_t, free_deleter>> insts;
    std::vector<cmdline_parse_inst_t*> ctx;  // NULL-terminated

    const char* c_str(std::string s) { return texts.emplace_back(std::move(s)).c_str(); }

    cmdline_parse_token_hdr_t* string_token(const char* str, unsigned offset) {
        cmdline_parse_token_string_t& t = tokens.emplace_back();
        t.hdr.ops = &cmdline_token_string_ops;
        t.hdr.offset = offset;
        t.string_data.str = str;  // NULL: any word; "a#b": one of these; "": the rest of the line
        return &t.hdr;
    }

    void add_instance(const binding& b) {
        const command& c = *b.cmd;
        std::vector<cmdline_parse_token_hdr_t*> toks;
        for (std::string_view w : c.words) {
            toks.push_back(string_token(c_str(std::string(w)), static_cast<unsigned>(toks.size()) * fixed_size));
        }
        for (std::size_t i = 0; i < b.nargs; ++i) {
            const arg_spec& a = c.args[i];
            const char* str = a.choices.empty() ? nullptr : c_str(std::string(a.choices));
            toks.push_back(string_token(str, static_cast<unsigned>(toks.size()) * fixed_size));
        }
        if (toks.size() > max_fixed_tokens) {
            throw std::runtime_error(
                fmt::format("console command '{}' has more than {} words", syntax(c), max_fixed_tokens));
        }
        if (b.tail) toks.push_back(string_token(TOKEN_STRING_MULTI, tail_offset));

        // tokens[] is a flexible array member, NULL-terminated (calloc zeroes it).
        void* mem = std::calloc(1, sizeof(cmdline_parse_inst_t) + (toks.size() + 1) * sizeof(toks[0]));
        if (!mem) throw std::bad_alloc();
        auto* inst = static_cast<cmdline_parse_inst_t*>(mem);
        insts.emplace_back(inst);
        inst->f = &console::on_parsed;
        inst->data = &bindings.emplace_back(b);
        inst->help_str = c_str(fmt::format("{}: {}", syntax(c), c.help));  // shown by '?' and double TAB
        std::copy(toks.begin(), toks.end(), inst->tokens);
        ctx.push_back(inst);
    }

    /// One instance per number of optional arguments given, and one with
    /// the option tail. Both kinds in one command would make two instances
    /// match the same line, which rte_cmdline refuses as ambiguous.
    void add_command(console* self, const command& c, binding::action what) {
        std::size_t required = 0;
        while (required < c.args.size() && !c.args[required].optional) ++required;
        for (std::size_t i = required; i < c.args.size(); ++i) {
            if (!c.args[i].optional || !c.options.empty()) {
                throw std::runtime_error(fmt::format("console command '{}': optional arguments must come last, "
                                                     "in a command without options", syntax(c)));
            }
        }
        for (std::size_t n = required; n <= c.args.size(); ++n) add_instance({self, &c, n, false, what});
        if (!c.options.empty()) add_instance({self, &c, c.args.size(), true, what});
    }
};

console::console(common::api::api& api, std::string prompt, std::function<void()> on_quit, int out_fd)
    : _api(api), _prompt(std::move(prompt)), _on_quit(std::move(on_quit)), _out_fd(out_fd),
      _grammar(std::make_unique<grammar>()) {
    grammar& g = *_grammar;
    g.areas = {{"cluster tables", table_commands()},
               {"statistics", stats_commands()},
               {"connections", conn_commands()},
               {"connection files", conn_file_commands()},
               {"mirror parser", mirror_commands()},
               {"manager (controld)", manager_commands()},
               {"gateway pair", ha_commands()},
               {"supervision (controld)", supervision_commands()},
               {"node restoration (controld)", restore_commands()},
               {"state backups (controld)", state_commands()},
               {"console", builtin_commands()}};
    for (const grammar::area& a : g.areas) {
        for (const command& c : a.commands) {
            using act = binding::action;
            const act what = c.run ? act::run : c.words.front() == "quit" ? act::quit : act::help;
            g.add_command(this, c, what);
            g.all.push_back(&c);
        }
    }
    g.ctx.push_back(nullptr);
    // No input, no output: it parses lines and completes words for us.
    _parser = cmdline_new(g.ctx.data(), "", -1, -1);
    if (!_parser) throw std::runtime_error("console: cannot create the command parser");
}

console::~console() { cmdline_free(_parser); }

// ---- running a command ---------------------------------------------------

void console::on_parsed(void* result, struct ::cmdline*, void* data) {
    const auto* b = static_cast<const binding*>(data);
    b->self->dispatch(*b, static_cast<const char*>(result));
}

void console::dispatch(const binding& b, const char* result) noexcept {
    // The one place where a command's errors stop: below is C code.
    std::string out;
    _last_ok = false;
    try {
        execute(b, result, out);
        _last_ok = true;
    } catch (const common::api::api_error& e) {
        append_error(out, e.what(), e.details());
    } catch (const std::exception& e) {
        append_error(out, e.what(), {});
    } catch (...) {
        append_error(out, "unexpected failure", {});
    }
    if (!_last_ok) ++_failed;
    emit(out);
}

void console::execute(const binding& b, const char* result, std::string& out) {
    const command& c = *b.cmd;
    parsed p;
    for (std::size_t i = 0; i < b.nargs; ++i) p.args.emplace_back(result + (c.words.size() + i) * fixed_size);
    if (b.tail) p.options = parse_options(c.options, result + tail_offset);
    switch (b.what) {
        case binding::action::help: help(p.args.empty() ? nullptr : &p.args[0], out); break;
        case binding::action::quit: quit(); break;
        case binding::action::run: {
            context ctx{_api, out};
            c.run(p, ctx);
            break;
        }
    }
}

void console::help(const std::string* word, std::string& out) const {
    bool any = false;
    for (const grammar::area& a : _grammar->areas) {
        std::string section;
        for (const command& c : a.commands) {
            if (word && c.words.front() != *word) continue;
            section += fmt::format("  {}\n      {}\n", syntax(c), c.help);
            if (!word) continue;
            // Asked about a few commands: say what each argument means too.
            table args({{""}, {""}});
            for (const arg_spec& s : c.args) args.add_row({arg_syntax(s), std::string(s.help)});
            for (const option_spec& o : c.options) args.add_row({option_syntax(o), std::string(o.help)});
            args.render(section, "        ");
        }
        if (section.empty()) continue;
        out += fmt::format("{}:\n{}", a.name, section);
        any = true;
    }
    if (!any) throw cli_error(fmt::format("no command starts with '{}'; try: help", *word));
}

void console::quit() {
    _quit = true;
    if (_on_quit) _on_quit();
    if (_rdl) rdline_quit(_rdl);
}

void console::report_unparsed(const std::string& line, int why) {
    ++_failed;
    const std::string msg = why == CMDLINE_PARSE_AMBIGUOUS ? "ambiguous command: " + line  // a bug in the tables
                                                           : describe_mismatch(_grammar->all, line);
    emit(fmt::format("error: {}\n", msg));
}

void console::emit(std::string_view text) const {
    while (!text.empty()) {
        const ssize_t n = ::write(_out_fd, text.data(), text.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // the terminal is gone; nobody is left to tell
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

bool console::run_line(const std::string& line) {
    std::string buf = line;
    while (!buf.empty() && (buf.back() == '\n' || buf.back() == '\r')) buf.pop_back();
    if (buf.find_first_of("\r\n") != std::string::npos) {
        ++_failed;
        emit("error: one command per line\n");
        return false;
    }
    buf += '\n';  // cmdline_parse wants a complete line
    _last_ok = true;
    const int r = cmdline_parse(_parser, buf.c_str());
    if (r >= 0) return _last_ok;  // parsed: dispatch() said how it went (blank lines run nothing)
    buf.pop_back();
    report_unparsed(buf, r);
    return false;
}

int console::run_script(std::istream& in, bool echo) {
    int failures = 0;
    _quit = false;
    std::string line;
    while (!_quit && std::getline(in, line)) {
        const std::size_t first = line.find_first_not_of(" \t\r");
        if (first == std::string::npos || line[first] == '#') continue;
        if (echo) emit(_prompt + line + "\n");
        if (!run_line(line)) ++failures;
    }
    return failures;
}

// ---- the prompt ----------------------------------------------------------

int console::rdline_write(struct ::rdline* rdl, char c) {
    const auto* self = static_cast<const console*>(rdline_get_opaque(rdl));
    return static_cast<int>(::write(self->_out_fd, &c, 1));
}

void console::rdline_validate(struct ::rdline* rdl, const char* buf, unsigned int size) {
    auto* self = static_cast<console*>(rdline_get_opaque(rdl));
    try {
        const std::string line(buf, strnlen(buf, size));  // "<line>\n"
        const std::string_view text = std::string_view(line).substr(0, line.find('\n'));
        const char* last = rdline_get_history_item(rdl, 0);
        if (text.find_first_not_of(" \t") != std::string_view::npos && (!last || text != last)) {
            rdline_add_history(rdl, line.c_str());
        }
        self->run_line(line);
    } catch (...) {
        // Only allocation can fail here; the line is lost, the prompt lives on.
        ++self->_failed;
    }
}

int console::rdline_complete(struct ::rdline* rdl, const char* buf, char* dst, unsigned int size, int* state) {
    auto* self = static_cast<console*>(rdline_get_opaque(rdl));
    // A command with an optional argument or options is several instances
    // with the same next word and help: list each choice once.
    if (*state <= 0) self->_listed.clear();
    while (true) {
        const int r = cmdline_complete(self->_parser, buf, state, dst, size);
        try {
            if (r != CMDLINE_PARSE_COMPLETE_AGAIN || self->_listed.insert(dst).second) return r;
        } catch (...) {
            return r;  // out of memory: a duplicate line is the lesser evil
        }
    }
}

int console::interact() {
    _rdl = rdline_new(&console::rdline_write, &console::rdline_validate, &console::rdline_complete, this);
    if (!_rdl) return -1;
    {
        raw_terminal raw(STDIN_FILENO);
        _quit = false;
        rdline_newline(_rdl, _prompt.c_str());
        char c = 0;
        while (true) {
            const ssize_t n = ::read(STDIN_FILENO, &c, 1);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            const int r = rdline_char_in(_rdl, c);
            if (r == RDLINE_RES_VALIDATED) rdline_newline(_rdl, _prompt.c_str());
            if (r == RDLINE_RES_EOF || r == RDLINE_RES_EXITED) break;
        }
    }
    rdline_free(_rdl);
    _rdl = nullptr;
    if (!_quit) {
        emit("\n");  // end of input left the cursor after the prompt
        if (_on_quit) _on_quit();
    }
    return 0;
}

}  // namespace cg::cli
