// Template substitution with the semantics ParaViewWeb users know from
// Python's string.Template: $name, ${name}, and $$ for a literal '$'.
// Identifiers are [_A-Za-z][_A-Za-z0-9]*. A '$' not followed by an
// identifier, a brace or another '$' is kept literally.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace pvl {

// Returns true and sets *value when the variable is known.
using VarLookup = std::function<bool(const std::string &name, std::string *value)>;

struct TemplateResult {
    std::string text;
    std::vector<std::string> missing; // unresolved names, in order, each once
};

// Unresolved placeholders are left in the text as written (Python's
// safe_substitute) and reported in `missing`, so that callers decide whether
// that is an error.
TemplateResult substitute(const std::string &tmpl, const VarLookup &lookup);

} // namespace pvl
