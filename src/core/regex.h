// The matcher behind `regexp` sanitize rules, backed by RE2. Patterns come
// from the operator's config, written for wslink's Python `re`; the values
// they are matched against come from clients, so the engine must never
// backtrack: RE2 matches in time linear in the value whatever the pattern.
//
// compile() takes Python syntax. The few Python spellings RE2 lacks are
// rewritten to RE2's (see regex.cpp); constructs that need backtracking
// (backreferences, lookaround, conditionals) and the few that RE2 cannot
// express are errors, never guesses. Values are UTF-8 text, as in Python.
#pragma once
#include <memory>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
}

namespace pvl {

class Regex {
  public:
    static constexpr size_t max_pattern = 1000; // bytes

    // What wslink, which runs the same pattern with Python's re.match,
    // would accept differently; filled by compile().
    struct PythonDifferences {
        // Not anchored at its end: re.match accepts any value that merely
        // starts with a match, full_match wants the whole value.
        bool prefix_match = false;
        // The escapes used among \d \w \s \b and their negations, e.g.
        // "\w \d": Unicode in Python, ASCII here. Empty if none, or if the
        // pattern sets Python's ASCII flag (?a).
        std::string unicode_escapes;
    };

    Regex();
    ~Regex();

    // Returns false and sets *error on a pattern that is invalid, too large,
    // or needs backtracking; the Regex then matches nothing.
    bool compile(const std::string &pattern, std::string *error);

    // True when the whole of `s` matches.
    bool full_match(std::string_view s) const;

    const PythonDifferences &python_differences() const { return differences_; }

  private:
    std::unique_ptr<re2::RE2> re_;
    PythonDifferences differences_;
};

} // namespace pvl
