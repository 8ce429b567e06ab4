#include "regex.h"

#include <algorithm>

namespace pvl {
namespace {

constexpr int unbounded = -1;

// The parsed pattern. Counted repeats are kept as one node and expanded only
// when the program is emitted, after their expanded size has been checked.
struct Node {
    enum class Kind : uint8_t { empty, byte, set, begin, end, concat, alt, repeat };
    Kind kind = Kind::empty;
    uint8_t byte = 0;
    uint32_t set = 0;
    int min = 0;
    int max = 0;
    size_t pos = 0; // where it starts in the pattern, for errors
    std::vector<Node> kids;
};

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
int hex_value(char c) {
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

std::string at(size_t pos) {
    return " at offset " + std::to_string(pos);
}

} // namespace

class Regex::Compiler {
  public:
    explicit Compiler(const std::string &p) : p_(p) {}

    bool run(std::vector<Inst> *prog, std::vector<ByteSet> *sets, std::string *error) {
        Node root;
        size_t size = 0;
        if (!parse(&root) || (size = size_of(root)) > max_program) {
            *error = error_;
            return false;
        }
        prog_.reserve(size + 1);
        emit(root);
        prog_.push_back({Op::match, 0, 0, 0});
        *prog = std::move(prog_);
        *sets = std::move(sets_);
        return true;
    }

  private:
    const std::string &p_;
    size_t i_ = 0;
    std::string error_;
    std::vector<Inst> prog_;
    std::vector<ByteSet> sets_;

    bool fail(const std::string &what, size_t pos) {
        if (error_.empty())
            error_ = what + at(pos);
        return false;
    }
    bool more() const { return i_ < p_.size(); }
    bool peek(char c) const { return i_ < p_.size() && p_[i_] == c; }

    static void add(ByteSet *s, unsigned c) { (*s)[c >> 6] |= uint64_t(1) << (c & 63); }
    static void add_range(ByteSet *s, unsigned lo, unsigned hi) {
        for (unsigned c = lo; c <= hi; ++c)
            add(s, c);
    }
    static void add_set(ByteSet *s, const ByteSet &o) {
        for (size_t k = 0; k < s->size(); ++k)
            (*s)[k] |= o[k];
    }
    static void invert(ByteSet *s) {
        for (auto &w : *s)
            w = ~w;
    }
    Node set_node(const ByteSet &s, size_t pos) {
        Node n;
        n.kind = Node::Kind::set;
        n.set = uint32_t(sets_.size());
        n.pos = pos;
        sets_.push_back(s);
        return n;
    }

    bool parse(Node *root) {
        if (p_.size() > max_pattern) {
            error_ = "pattern is " + std::to_string(p_.size()) + " bytes, more than " +
                     std::to_string(max_pattern);
            return false;
        }
        if (!parse_alt(0, root))
            return false;
        if (more()) // parse_alt stops only at the end or at a ')'
            return fail("unmatched ')'", i_);
        return true;
    }

    bool parse_alt(int depth, Node *out) {
        size_t start = i_;
        Node first;
        if (!parse_concat(depth, &first))
            return false;
        if (!peek('|')) {
            *out = std::move(first);
            return true;
        }
        out->kind = Node::Kind::alt;
        out->pos = start;
        out->kids.push_back(std::move(first));
        while (peek('|')) {
            ++i_;
            Node next;
            if (!parse_concat(depth, &next))
                return false;
            out->kids.push_back(std::move(next));
        }
        return true;
    }

    bool parse_concat(int depth, Node *out) {
        out->kind = Node::Kind::concat;
        out->pos = i_;
        while (more() && p_[i_] != '|' && p_[i_] != ')') {
            Node atom;
            size_t start = i_;
            if (!parse_atom(depth, &atom))
                return false;
            if (at_quantifier()) {
                size_t qpos = i_;
                Node rep;
                rep.kind = Node::Kind::repeat;
                rep.pos = qpos;
                // ECMAScript and Python both refuse to repeat a bare
                // assertion (but "(^)*" is fine).
                if (p_[start] == '^' || p_[start] == '$')
                    return fail("nothing to repeat", qpos);
                if (!parse_quantifier(&rep.min, &rep.max))
                    return false;
                if (peek('?'))
                    ++i_; // lazy: the same strings match as a whole
                // A second quantifier ("a**", possessive "a*+") is left for
                // parse_atom to reject as having nothing to repeat.
                rep.kids.push_back(std::move(atom));
                atom = std::move(rep);
            }
            out->kids.push_back(std::move(atom));
        }
        if (out->kids.size() == 1) {
            Node only = std::move(out->kids[0]);
            *out = std::move(only);
        } else if (out->kids.empty()) {
            out->kind = Node::Kind::empty;
        }
        return true;
    }

    // {n}, {n,} or {n,m} at i_: returns false without an error when the
    // text there is not one, so the caller can say what is wrong.
    bool brace_quantifier(size_t *end, long *min, long *max) const {
        size_t k = i_ + 1;
        auto number = [&](long *v) {
            size_t from = k;
            *v = 0;
            while (k < p_.size() && is_digit(p_[k])) {
                *v = std::min(*v * 10 + (p_[k] - '0'), 1000000L);
                ++k;
            }
            return k > from;
        };
        if (!number(min))
            return false;
        *max = *min;
        if (k < p_.size() && p_[k] == ',') {
            ++k;
            if (!number(max))
                *max = unbounded;
        }
        if (k >= p_.size() || p_[k] != '}')
            return false;
        *end = k + 1;
        return true;
    }

    bool at_quantifier() const {
        size_t end;
        long lo, hi;
        return more() && (p_[i_] == '*' || p_[i_] == '+' || p_[i_] == '?' ||
                          (p_[i_] == '{' && brace_quantifier(&end, &lo, &hi)));
    }

    bool parse_quantifier(int *min, int *max) {
        char c = p_[i_];
        if (c != '{') {
            *min = c == '+' ? 1 : 0;
            *max = c == '?' ? 1 : unbounded;
            ++i_;
            return true;
        }
        size_t end;
        long lo, hi;
        brace_quantifier(&end, &lo, &hi); // at_quantifier() said it is one
        if (lo > max_repeat || hi > max_repeat)
            return fail("repeat count above " + std::to_string(max_repeat), i_);
        if (hi != unbounded && hi < lo)
            return fail("{n,m} with n greater than m", i_);
        *min = int(lo);
        *max = int(hi);
        i_ = end;
        return true;
    }

    bool parse_atom(int depth, Node *out) {
        size_t start = i_;
        char c = p_[i_];
        out->pos = start;
        switch (c) {
        case '(':
            return parse_group(depth, out);
        case '[':
            return parse_class(out);
        case '.': {
            ByteSet s{};
            add(&s, '\n');
            invert(&s);
            *out = set_node(s, start);
            ++i_;
            return true;
        }
        case '^':
        case '$':
            out->kind = c == '^' ? Node::Kind::begin : Node::Kind::end;
            ++i_;
            return true;
        case '\\': {
            ByteSet s{};
            bool is_set;
            uint8_t b = 0;
            if (!parse_escape(&s, &is_set, &b))
                return false;
            if (is_set) {
                *out = set_node(s, start);
            } else {
                out->kind = Node::Kind::byte;
                out->byte = b;
            }
            return true;
        }
        case '*':
        case '+':
        case '?':
            return fail("nothing to repeat", start);
        case '{': {
            size_t end;
            long lo, hi;
            if (brace_quantifier(&end, &lo, &hi))
                return fail("nothing to repeat", start);
            return fail("'{' does not start {n}, {n,} or {n,m} (write \\{ for a literal brace)",
                        start);
        }
        default: // ']' and '}' alone are literals in ECMAScript and Python alike
            out->kind = Node::Kind::byte;
            out->byte = uint8_t(c);
            ++i_;
            return true;
        }
    }

    bool parse_group(int depth, Node *out) {
        size_t open = i_;
        if (depth >= max_depth)
            return fail("groups nested more than " + std::to_string(max_depth) + " deep", open);
        ++i_;
        if (peek('?')) {
            char k = i_ + 1 < p_.size() ? p_[i_ + 1] : '\0';
            if (k == '=' || k == '!')
                return fail("lookahead (?" + std::string(1, k) + " is not supported", open);
            if (k == '<')
                return fail("lookbehind and named groups (?< are not supported", open);
            if (k == 'P')
                return fail("named groups (?P are not supported", open);
            if (k != ':')
                return fail("only (?: is supported after '(?'", open);
            i_ += 2;
        }
        if (!parse_alt(depth + 1, out))
            return false;
        if (!peek(')'))
            return fail("missing ')' for the '('", open);
        ++i_;
        return true;
    }

    // A backslash escape at i_, outside or inside a class: either one byte
    // (*is_set false, *b) or a class such as \d (*is_set true, added to *s).
    bool parse_escape(ByteSet *s, bool *is_set, uint8_t *b) {
        size_t start = i_;
        if (i_ + 1 >= p_.size())
            return fail("trailing backslash", start);
        char c = p_[i_ + 1];
        i_ += 2;
        *is_set = false;
        ByteSet cls{};
        switch (c) {
        case 'd':
        case 'D':
            add_range(&cls, '0', '9');
            break;
        case 'w':
        case 'W':
            add_range(&cls, '0', '9');
            add_range(&cls, 'a', 'z');
            add_range(&cls, 'A', 'Z');
            add(&cls, '_');
            break;
        case 's':
        case 'S':
            for (char w : {' ', '\t', '\n', '\r', '\f', '\v'})
                add(&cls, uint8_t(w));
            break;
        case 'n':
            *b = '\n';
            return true;
        case 't':
            *b = '\t';
            return true;
        case 'r':
            *b = '\r';
            return true;
        case 'f':
            *b = '\f';
            return true;
        case 'v':
            *b = '\v';
            return true;
        case 'x': {
            int hi = i_ < p_.size() ? hex_value(p_[i_]) : -1;
            int lo = i_ + 1 < p_.size() ? hex_value(p_[i_ + 1]) : -1;
            if (hi < 0 || lo < 0)
                return fail("\\x needs two hex digits", start);
            *b = uint8_t(hi * 16 + lo);
            i_ += 2;
            return true;
        }
        default:
            if (c >= '1' && c <= '9')
                return fail("backreference \\" + std::string(1, c) + " is not supported", start);
            // Only ASCII punctuation and space stand for themselves: an
            // escaped letter or digit means something in some dialect, and
            // an escaped non-ASCII byte would split a UTF-8 character.
            if (c >= ' ' && c <= '~' && is_alnum(c))
                return fail("escape \\" + std::string(1, c) + " is not supported", start);
            if (c < ' ' || c > '~') {
                static const char hex[] = "0123456789abcdef";
                uint8_t u = uint8_t(c);
                return fail(std::string("escape of the byte 0x") + hex[u >> 4] + hex[u & 15] +
                                " is not supported",
                            start);
            }
            *b = uint8_t(c);
            return true;
        }
        if (c >= 'A' && c <= 'Z')
            invert(&cls);
        add_set(s, cls);
        *is_set = true;
        return true;
    }

    // One class member at i_ (inside [...]): a byte or a class escape.
    bool class_item(ByteSet *s, bool *is_set, uint8_t *b) {
        if (p_[i_] == '[')
            return fail("'[' inside a class (write \\[ for a literal '[')", i_);
        if (p_[i_] == '\\')
            return parse_escape(s, is_set, b);
        *is_set = false;
        *b = uint8_t(p_[i_++]);
        return true;
    }

    bool parse_class(Node *out) {
        size_t open = i_;
        ++i_;
        bool negate = peek('^');
        if (negate)
            ++i_;
        if (peek(']'))
            return fail("empty class (write \\] for a literal ']')", open);
        ByteSet s{};
        for (;;) {
            if (!more())
                return fail("missing ']' for the '['", open);
            if (p_[i_] == ']') {
                ++i_;
                break;
            }
            bool is_set;
            uint8_t lo = 0;
            if (!class_item(&s, &is_set, &lo))
                return false;
            // '-' makes a range unless it is the last thing in the class.
            bool dash = i_ + 1 < p_.size() && p_[i_] == '-' && p_[i_ + 1] != ']';
            if (!dash) {
                if (!is_set)
                    add(&s, lo);
                continue;
            }
            size_t dash_pos = i_;
            if (is_set)
                return fail("a class escape cannot start a range (write \\- for a literal '-')",
                            dash_pos);
            ++i_;
            uint8_t hi = 0;
            ByteSet ignored{};
            if (!class_item(&ignored, &is_set, &hi))
                return false;
            if (is_set)
                return fail("a class escape cannot end a range (write \\- for a literal '-')",
                            dash_pos);
            if (hi < lo)
                return fail("range out of order", dash_pos);
            add_range(&s, lo, hi);
        }
        if (negate)
            invert(&s);
        *out = set_node(s, open);
        return true;
    }

    // Instructions emit() will produce for n, saturating just above the
    // limit; the first node found too big (the innermost) is reported.
    size_t size_of(const Node &n) {
        const uint64_t cap = max_program + 1;
        uint64_t size = 0;
        switch (n.kind) {
        case Node::Kind::empty:
            break;
        case Node::Kind::byte:
        case Node::Kind::set:
        case Node::Kind::begin:
        case Node::Kind::end:
            size = 1;
            break;
        case Node::Kind::concat:
        case Node::Kind::alt:
            for (const Node &k : n.kids)
                size += size_of(k);
            if (n.kind == Node::Kind::alt)
                size += 2 * (n.kids.size() - 1);
            break;
        case Node::Kind::repeat: {
            uint64_t e = size_of(n.kids[0]);
            uint64_t min = uint64_t(n.min);
            if (n.max == unbounded)
                size = min == 0 ? e + 2 : min * e + 1;
            else
                size = min * e + (uint64_t(n.max) - min) * (e + 1);
            break;
        }
        }
        if (size > max_program) {
            fail("pattern expands to more than " + std::to_string(max_program) +
                     " instructions (repeat counts multiply)",
                 n.pos);
            size = cap;
        }
        return size_t(size);
    }

    uint32_t pc() const { return uint32_t(prog_.size()); }
    uint32_t push(Op op, uint32_t x = 0, uint32_t y = 0, uint8_t byte = 0) {
        prog_.push_back({op, byte, x, y});
        return pc() - 1;
    }

    void emit(const Node &n) {
        switch (n.kind) {
        case Node::Kind::empty:
            break;
        case Node::Kind::byte:
            push(Op::byte, 0, 0, n.byte);
            break;
        case Node::Kind::set:
            push(Op::set, n.set);
            break;
        case Node::Kind::begin:
            push(Op::assert_begin);
            break;
        case Node::Kind::end:
            push(Op::assert_end);
            break;
        case Node::Kind::concat:
            for (const Node &k : n.kids)
                emit(k);
            break;
        case Node::Kind::alt: {
            std::vector<uint32_t> jumps;
            for (size_t k = 0; k + 1 < n.kids.size(); ++k) {
                uint32_t split = push(Op::split, pc() + 1);
                emit(n.kids[k]);
                jumps.push_back(push(Op::jmp));
                prog_[split].y = pc();
            }
            emit(n.kids.back());
            for (uint32_t j : jumps)
                prog_[j].x = pc();
            break;
        }
        case Node::Kind::repeat: {
            const Node &body = n.kids[0];
            if (n.max == unbounded && n.min == 0) {
                uint32_t split = push(Op::split, pc() + 1);
                emit(body);
                push(Op::jmp, split);
                prog_[split].y = pc();
                break;
            }
            for (int k = 0; k < n.min; ++k) {
                uint32_t start = pc();
                emit(body);
                if (n.max == unbounded && k + 1 == n.min)
                    push(Op::split, start, pc() + 1);
            }
            if (n.max == unbounded)
                break;
            // Each optional copy may be skipped straight to the end.
            std::vector<uint32_t> skips;
            for (int k = n.min; k < n.max; ++k) {
                skips.push_back(push(Op::split, pc() + 1));
                emit(body);
            }
            for (uint32_t s : skips)
                prog_[s].y = pc();
            break;
        }
        }
    }
};

bool Regex::compile(const std::string &pattern, std::string *error) {
    prog_.clear();
    sets_.clear();
    return Compiler(pattern).run(&prog_, &sets_, error);
}

bool Regex::full_match(std::string_view s) const {
    const size_t n = prog_.size();
    if (n == 0)
        return false;
    // One allocation per call, none per input byte: each list and the
    // closure stack hold every instruction at most once per step, which
    // mark[] (the step that last added an instruction) guarantees.
    std::vector<uint32_t> buf(3 * n);
    uint32_t *cur = buf.data(), *next = cur + n, *stack = next + n;
    size_t ncur = 0, nnext = 0;
    std::vector<size_t> mark(n, 0);

    // Adds pc and whatever it reaches without consuming input at `pos` to
    // list; assertions are decided here since they only depend on pos.
    auto add = [&](uint32_t start, size_t pos, size_t step, uint32_t *list, size_t *len) {
        if (mark[start] == step)
            return;
        mark[start] = step;
        size_t top = 0;
        stack[top++] = start;
        auto push = [&](uint32_t target) {
            if (mark[target] != step) {
                mark[target] = step;
                stack[top++] = target;
            }
        };
        while (top > 0) {
            uint32_t at_pc = stack[--top];
            const Inst &in = prog_[at_pc];
            switch (in.op) {
            case Op::jmp:
                push(in.x);
                break;
            case Op::split:
                push(in.x);
                push(in.y);
                break;
            case Op::assert_begin:
                if (pos == 0)
                    push(at_pc + 1);
                break;
            case Op::assert_end:
                if (pos == s.size())
                    push(at_pc + 1);
                break;
            case Op::byte:
            case Op::set:
            case Op::match:
                list[(*len)++] = at_pc;
                break;
            }
        }
    };

    add(0, 0, 1, cur, &ncur);
    for (size_t pos = 0; pos < s.size(); ++pos) {
        if (ncur == 0)
            return false;
        const uint8_t c = uint8_t(s[pos]);
        nnext = 0;
        for (size_t k = 0; k < ncur; ++k) {
            const Inst &in = prog_[cur[k]];
            bool ok = in.op == Op::byte  ? in.byte == c
                      : in.op == Op::set ? (sets_[in.x][c >> 6] >> (c & 63)) & 1
                                         : false;
            if (ok)
                add(cur[k] + 1, pos + 1, pos + 2, next, &nnext);
        }
        std::swap(cur, next);
        ncur = nnext;
    }
    for (size_t k = 0; k < ncur; ++k)
        if (prog_[cur[k]].op == Op::match)
            return true;
    return false;
}

} // namespace pvl
