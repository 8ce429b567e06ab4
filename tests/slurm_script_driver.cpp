// Prints the batch script src/core/slurm.h writes for one app, for
// tests/integration/test_170_slurm.py to submit to a real Slurm.
//
// Usage: slurm_script_driver < spec.json
//   {"argv": [...], "dir": "...", "env": {"NAME": "value", ...}}
// where "${host}" and "${port}" stand for the node's name and the port the
// job step reserves, as they do in a launcher config's cmd. Exit status: 0
// with the script on stdout, 1 refused (the reason on stderr), 64 bad input.
#include "core/json.h"
#include "core/slurm.h"

#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

namespace {

std::string with_markers(std::string s) {
    for (const auto &kv :
         {std::make_pair(std::string("${host}"), std::string(pvl::slurm_host_marker)),
          std::make_pair(std::string("${port}"), std::string(pvl::slurm_port_marker))})
        for (size_t at = s.find(kv.first); at != std::string::npos;
             at = s.find(kv.first, at + kv.second.size()))
            s.replace(at, kv.first.size(), kv.second);
    return s;
}

} // namespace

int main() {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    pvl::JsonPtr spec(json_loadb(text.data(), text.size(), 0, nullptr));
    if (!json_is_object(spec.get())) {
        std::fprintf(stderr, "stdin must be a JSON object\n");
        return 64;
    }
    pvl::SlurmScript s;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(spec.get(), "argv"), i, v) {
        if (!json_is_string(v))
            return 64;
        s.argv.push_back(with_markers(std::string(json_string_value(v), json_string_length(v))));
    }
    if (json_t *dir = json_object_get(spec.get(), "dir"))
        s.dir = json_string_value(dir) ? json_string_value(dir) : "";
    const char *key;
    json_object_foreach(json_object_get(spec.get(), "env"), key, v) {
        if (!json_is_string(v))
            return 64;
        s.env.emplace_back(key, with_markers(json_string_value(v)));
    }
    std::string out, error;
    if (!pvl::slurm_batch_script(s, &out, &error)) {
        std::fprintf(stderr, "%s\n", error.c_str());
        return 1;
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}
