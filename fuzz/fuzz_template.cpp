// libFuzzer target: template substitution and sanitize rules. The input is
// "<template>\0<value>[\0<pattern>]": the template is expanded with a
// variable holding the value, and the value (what a client controls) is
// checked against the pattern. Patterns are fuzzed too, since their
// translation from Python's syntax to RE2's must hold up, and matching must
// stay linear and bounded whatever the operator writes; inputs without a
// pattern use one of a set like those in real launcher configs.
#include "core/config.h"
#include "core/launch_plan.h"
#include "core/regex.h"
#include "core/template.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string in(reinterpret_cast<const char *>(data), size);
    size_t a = in.find('\0');
    std::string tmpl = in.substr(0, a);
    std::string value = a == std::string::npos ? "" : in.substr(a + 1);
    size_t b = value.find('\0');
    std::string pattern;
    if (b != std::string::npos) {
        pattern = value.substr(b + 1);
        value.resize(b);
    } else {
        static const char *const patterns[] = {"[a-z]+",       "[A-Za-z0-9_./-]+", "^[^\"]*$",
                                               "(light|dark)", "[0-9]{1,5}",       ".*\\.vtk"};
        pattern = patterns[tmpl.size() % (sizeof patterns / sizeof patterns[0])];
    }

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

    auto re = std::make_shared<pvl::Regex>();
    std::string error;
    if (!re->compile(pattern, &error)) {
        if (error.empty() || re->full_match(value))
            __builtin_trap(); // a rejected pattern says why and matches nothing
        return 0;
    }
    if (pattern.size() > pvl::Regex::max_pattern)
        __builtin_trap();
    // A pattern of letters and digits only matches exactly itself.
    bool literal = true;
    for (char c : pattern)
        literal =
            literal && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
    if (literal && re->full_match(value) != (value == pattern))
        __builtin_trap();
    // A bare word leaves nothing to anchor it at the end.
    if (literal && !re->python_differences().prefix_match)
        __builtin_trap();

    pvl::SanitizeRule rule;
    rule.type = pvl::SanitizeRule::Type::regexp;
    rule.pattern = pattern;
    rule.re = std::move(re);
    rule.has_default = true;
    rule.default_value = "default";
    pvl::LaunchError err;
    std::string v = value;
    if (!pvl::sanitize_value(rule, "k", &v, &err))
        __builtin_trap(); // a rule with a default never rejects
    return 0;
}
