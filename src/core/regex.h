// The matcher behind `regexp` sanitize rules. Patterns come from the
// operator's config but the values they are matched against come from
// clients, so matching must never backtrack: a pattern is compiled to a small
// NFA program and run as a Pike VM, which costs O(len(input) * program size)
// whatever the pattern, with no recursion on the input.
//
// Syntax, a subset on which ECMAScript and Python agree (input is bytes):
//   literal bytes; '.' (any byte but '\n'); \d \D \w \W \s \S (ASCII);
//   \n \t \r \f \v \xHH; a backslash before ASCII punctuation or space;
//   [...] and [^...] with ranges, those escapes, and '-' literal first or
//   last ("[]" and "[^]" are errors, as is an unescaped '[' inside a class,
//   which would otherwise silently misread POSIX "[[:alpha:]]"; a UTF-8
//   character in a class stands for each of its bytes);
//   (...) and (?:...); '|'; * + ? {n} {n,} {n,m}, each optionally followed by
//   '?' (laziness does not change a whole-string match); ^ and $ as
//   assertions for the start and the end of the input.
// Anything else (backreferences, lookaround, named groups, inline flags,
// \b, possessive quantifiers, a '{' that does not start a quantifier) is an
// error rather than a guess at what the pattern meant.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pvl {

class Regex {
  public:
    static constexpr size_t max_pattern = 1000;  // bytes
    static constexpr int max_repeat = 1000;      // n and m in {n,m}
    static constexpr size_t max_program = 20000; // instructions once repeats are expanded
    static constexpr int max_depth = 100;        // nested groups

    // Returns false and sets *error (naming the 0-based byte offset) on a
    // pattern outside the syntax or the limits above; the Regex then
    // matches nothing.
    bool compile(const std::string &pattern, std::string *error);

    // True when the whole of `s` matches, like std::regex_match.
    bool full_match(std::string_view s) const;

    // Instructions in the compiled program, for tests of the limits.
    size_t program_size() const { return prog_.size(); }

  private:
    enum class Op : uint8_t { byte, set, split, jmp, assert_begin, assert_end, match };
    struct Inst {
        Op op;
        uint8_t byte; // Op::byte
        uint32_t x;   // Op::set: index in sets_; Op::jmp and Op::split: target
        uint32_t y;   // Op::split: second target
    };
    using ByteSet = std::array<uint64_t, 4>;
    class Compiler;

    std::vector<Inst> prog_;
    std::vector<ByteSet> sets_;
};

} // namespace pvl
