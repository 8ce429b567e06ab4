// $name / ${name} / $$ substitution: src/core/template.h.
#include "core/template.h"

#include <map>
#include <string>
#include <vector>

// Last: cmocka defines fail() and friends, which clash with <ios>.
#include "unit.h"

using namespace pvl;

namespace {

const std::map<std::string, std::string> vars = {
    {"name", "Bob"}, {"a", "A"},       {"ab", "AB"},       {"_x1", "under"}, {"port", "9000"},
    {"empty", ""},   {"dollar", "$a"}, {"braced", "${a}"}, {"twice", "$$"},
};

TemplateResult sub(const std::string &tmpl, std::vector<std::string> *asked = nullptr) {
    return substitute(tmpl, [asked](const std::string &name, std::string *value) {
        if (asked)
            asked->push_back(name);
        auto it = vars.find(name);
        if (it == vars.end())
            return false;
        *value = it->second;
        return true;
    });
}

std::string joined(const std::vector<std::string> &names) {
    std::string out;
    for (const auto &n : names)
        out += (out.empty() ? "" : ",") + n;
    return out;
}

// `missing`: the unresolved names, comma-separated.
void check(const std::string &tmpl, const std::string &text, const std::string &missing = "") {
    TemplateResult r = sub(tmpl);
    if (r.text != text || joined(r.missing) != missing)
        fail_msg("substitute(\"%s\") gave text \"%s\" missing \"%s\"; expected \"%s\" / \"%s\"",
                 tmpl.c_str(), r.text.c_str(), joined(r.missing).c_str(), text.c_str(),
                 missing.c_str());
}

void plain_and_braced_names(void **) {
    check("$name", "Bob");
    check("${name}", "Bob");
    check("hello $name!", "hello Bob!");
    check("hello ${name}!", "hello Bob!");
    check("--port=$port", "--port=9000");
    check("$_x1", "under");
    check("${_x1}", "under");
    check("$name$port", "Bob9000");
    check("${name}${port}", "Bob9000");
    check("$empty", "");
    check("[$empty]", "[]");
}

void double_dollar_is_a_literal_dollar(void **) {
    check("$$", "$");
    check("$$name", "$name");
    check("$$$name", "$Bob");
    check("$$$$", "$$");
    check("cost: $$5", "cost: $5");
    check("$${name}", "${name}");
}

void identifier_is_greedy(void **) {
    check("$ab", "AB");   // not $a followed by "b"
    check("${a}b", "Ab"); // braces end the name
    check("$a-b", "A-b"); // '-' is not an identifier char
    check("$a.b", "A.b");
    check("$name1", "$name1", "name1");
    check("$port/x", "9000/x");
}

void unknown_variable_reported_and_kept(void **) {
    check("$nope", "$nope", "nope");
    check("${nope}", "${nope}", "nope");
    check("x $nope y ${name}", "x $nope y Bob", "nope");
    // Every unresolved name is reported; all are left as written.
    check("$first ${second} $name", "$first ${second} Bob", "first,second");
    // Each unknown name is reported once, in order of first use.
    check("$b $c ${b} $c", "$b $c ${b} $c", "b,c");
}

void lookup_gets_bare_names(void **) {
    std::vector<std::string> asked;
    sub("$a ${ab} $$ $_x1", &asked);
    assert_int_equal(asked.size(), 3);
    assert_str_eq(asked[0], "a");
    assert_str_eq(asked[1], "ab");
    assert_str_eq(asked[2], "_x1");
}

void dollar_without_identifier_is_literal(void **) {
    check("$", "$");
    check("a$", "a$");
    check("$ ", "$ ");
    check("$1", "$1"); // identifiers do not start with a digit
    check("$-x", "$-x");
    check("100$", "100$");
    check("$.name", "$.name");
    check("${1a}", "${1a}");
    check("${}", "${}");
    check("${ name}", "${ name}");
    check("${na me}", "${na me}");
}

void unterminated_brace_is_literal(void **) {
    check("${", "${");
    check("${name", "${name");
    check("x ${name y", "x ${name y");
    // A later, well-formed placeholder still expands.
    check("${name $name", "${name Bob");
}

void empty_template(void **) {
    TemplateResult r = sub("");
    assert_str_eq(r.text, "");
    assert_true(r.missing.empty());
    check("no placeholders here", "no placeholders here");
}

void values_are_not_re_expanded(void **) {
    check("$dollar", "$a");
    check("${braced}", "${a}");
    check("$twice", "$$");
    check("$dollar$a", "$aA");
}

} // namespace

int run_template_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_and_braced_names),
        cmocka_unit_test(double_dollar_is_a_literal_dollar),
        cmocka_unit_test(identifier_is_greedy),
        cmocka_unit_test(unknown_variable_reported_and_kept),
        cmocka_unit_test(lookup_gets_bare_names),
        cmocka_unit_test(dollar_without_identifier_is_literal),
        cmocka_unit_test(unterminated_brace_is_literal),
        cmocka_unit_test(empty_template),
        cmocka_unit_test(values_are_not_re_expanded),
    };
    return cmocka_run_group_tests_name("template", tests, nullptr, nullptr);
}
