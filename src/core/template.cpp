#include "template.h"

#include <algorithm>

namespace pvl {
namespace {

bool ident_start(char c) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool ident_char(char c) {
    return ident_start(c) || (c >= '0' && c <= '9');
}

} // namespace

TemplateResult substitute(const std::string &tmpl, const VarLookup &lookup) {
    TemplateResult res;
    std::string &out = res.text;
    out.reserve(tmpl.size());
    size_t i = 0;
    const size_t n = tmpl.size();
    while (i < n) {
        char c = tmpl[i];
        if (c != '$' || i + 1 >= n) {
            out.push_back(c);
            ++i;
            continue;
        }
        char next = tmpl[i + 1];
        if (next == '$') {
            out.push_back('$');
            i += 2;
            continue;
        }
        size_t name_begin, name_end, end;
        if (next == '{') {
            name_begin = i + 2;
            name_end = name_begin;
            if (name_end < n && ident_start(tmpl[name_end])) {
                while (name_end < n && ident_char(tmpl[name_end]))
                    ++name_end;
            }
            if (name_end == name_begin || name_end >= n || tmpl[name_end] != '}') {
                out.push_back('$'); // not a placeholder: keep literally
                ++i;
                continue;
            }
            end = name_end + 1;
        } else if (ident_start(next)) {
            name_begin = i + 1;
            name_end = name_begin;
            while (name_end < n && ident_char(tmpl[name_end]))
                ++name_end;
            end = name_end;
        } else {
            out.push_back('$');
            ++i;
            continue;
        }
        std::string name = tmpl.substr(name_begin, name_end - name_begin);
        std::string value;
        if (lookup(name, &value)) {
            out += value;
        } else {
            if (std::find(res.missing.begin(), res.missing.end(), name) == res.missing.end())
                res.missing.push_back(name);
            out.append(tmpl, i, end - i);
        }
        i = end;
    }
    return res;
}

} // namespace pvl
