// libFuzzer target: a POST body as the daemon handles it: parse, check,
// sanitize and plan against a fixed launcher config.
#include "core/config.h"
#include "core/launch_plan.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

const pvl::LauncherConfig &config() {
    static pvl::LauncherConfig cfg = [] {
        pvl::LauncherConfig c;
        std::string error;
        const char *text = R"({
          "configuration": {"sessionURL": "ws://h/proxy?sessionId=${id}&u=$user",
            "fields": ["host", "port"],
            "sanitize": {
              "user": {"type": "regexp", "regexp": "[a-z]{1,16}", "default": "anon"},
              "file": {"type": "inList", "list": ["a.vtk", "b.vtk"]},
              "secret": {"type": "regexp", "regexp": "[A-Za-z0-9_-]{8,64}", "default": "x"}}},
          "sessionData": {"home": "/home/$user", "n": 3},
          "properties": {"exe": "/usr/bin/pvpython"},
          "resources": [{"host": "localhost", "port_range": [9000, 9001]}],
          "apps": {"vis": {"cmd": ["$exe", "--port", "$port", "--user", "${user}",
                                   "--key", "$secret", "--file", "$file"], "ready_line": "x"},
                   "free": {"cmd": ["prog", "$anything", "$$", "${id}"]}}})";
        if (!pvl::parse_launcher_config(text, "fuzz.json", &c, &error))
            __builtin_trap();
        return c;
    }();
    return cfg;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pvl::LaunchError err;
    pvl::JsonPtr payload = pvl::parse_payload(reinterpret_cast<const char *>(data), size, &err);
    if (!payload)
        return 0;
    std::string app;
    if (!pvl::check_payload(config(), payload.get(), &app, &err))
        return 0;
    pvl::ServerVars vars;
    vars.id = "ID";
    vars.host = "localhost";
    vars.port = 9000;
    vars.secret = "GENERATED";
    vars.application = app;
    pvl::LaunchPlan plan;
    if (pvl::plan_launch(config(), payload.get(), vars, &plan, &err)) {
        // The server's keys are never the client's.
        if (plan.argv.empty() || plan.argv[0] != (app == "vis" ? "/usr/bin/pvpython" : "prog"))
            __builtin_trap();
    } else if (err.status != 400) {
        __builtin_trap();
    }
    return 0;
}
