// libFuzzer target: template substitution and sanitize rules. The input is
// "<template>\0<value>": the template is expanded with a variable holding
// the value, and the value (what a client controls) is checked against one of
// a set of operator patterns like those in real launcher configs. Arbitrary
// patterns are not fuzzed here: std::regex backtracks exponentially on some
// (e.g. "?+++...}"), and those come from the operator's config, not from
// clients (see SECURITY.md).
#include "core/config.h"
#include "core/launch_plan.h"
#include "core/template.h"

#include <cstddef>
#include <cstdint>
#include <regex>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string in(reinterpret_cast<const char *>(data), size);
    size_t a = in.find('\0');
    std::string tmpl = in.substr(0, a);
    std::string value = a == std::string::npos ? "" : in.substr(a + 1);
    static const char *const patterns[] = {"[a-z]+", "[A-Za-z0-9_./-]+", "^[^\"]*$",
                                           "(light|dark)", "[0-9]{1,5}", ".*\\.vtk"};
    std::string pattern = patterns[tmpl.size() % (sizeof patterns / sizeof patterns[0])];

    pvl::TemplateResult r = pvl::substitute(tmpl, [&](const std::string &name, std::string *out) {
        if (name != "v")
            return false;
        *out = value;
        return true;
    });
    // Substitution only ever removes "$$" pairs and placeholders: without
    // any '$' the text is unchanged.
    if (tmpl.find('$') == std::string::npos && r.text != tmpl)
        __builtin_trap();

    pvl::SanitizeRule rule;
    rule.type = pvl::SanitizeRule::Type::regexp;
    rule.has_default = true;
    rule.default_value = "default";
    try {
        rule.re = std::make_shared<const std::regex>(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error &) {
        return 0;
    }
    pvl::LaunchError err;
    std::string v = value;
    if (!pvl::sanitize_value(rule, "k", &v, &err))
        __builtin_trap(); // a rule with a default never rejects
    return 0;
}
