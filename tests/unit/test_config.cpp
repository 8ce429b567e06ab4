// The launcher config parser: src/core/config.h.
#include "core/config.h"

#include <cstdio>
#include <string>
#include <unistd.h>
#include <vector>

// Last: cmocka defines fail() and friends, which clash with <ios>.
#include "unit.h"

using namespace pvl;

namespace {

const char *const file = "launcher-test.json";

// The config of the wslink launcher documentation, with comments.
const char *const wslink_config = R"JSON({
  // wslink launcher format
  "configuration": {
    "host": "localhost",
    "port": 8080,
    "endpoint": "paraview",
    "content": "/www",
    "log_dir": "/var/log/pv",
    "proxy_file": "/tmp/proxy-mapping.txt",
    "sessionURL": "ws://${host}:${port}/ws",
    "timeout": 30,
    "fields": ["file", "host", "port"],
    "sanitize": {
      "file": {"type": "inList", "list": ["a.vtk", "b.vtk"], "default": "a.vtk"},
      "name": {"type": "regexp", "regexp": "[a-z]+"}
    }
  },
  /* resources: where sessions may listen */
  "resources": [ { "host": "localhost", "port_range": [9001, 9003] },
                 { "host": "node2.example.org", "port_range": [9001, 9001] } ],
  # properties are usable in cmd
  "properties": {
    "python_exec": "/usr/bin/pvpython",
    "build": 5
  },
  "apps": {
    "visualizer": {
      "cmd": ["${python_exec}", "-m", "pv.visualizer", "--port", "$port"],
      "ready_line": "Starting factory"
    },
    "cone": {
      "cmd": ["${python_exec}", "cone.py"],
      "dir": "/srv/cone",
      "env": {"PV_DATA": "/data/$id", "OMP_NUM_THREADS": "2"},
      "ready_line": ["Ready", "Listening"]
    }
  },
  "sessionData": {"updir": "/Home", "n": 3}
}
)JSON";

// The config of the ParaViewWeb launcher guide.
const char *const pvw_config = R"JSON({
    "url": "ws://localhost:8080/ws",
    "log": "/tmp/pvw-logs",
    "map_file": "/tmp/map.txt",
    "proxy_url": "ws://localhost:8080/proxy?sessionId=${id}",
    "wait_line": "Starting factory",
    "timeout": 12.5,
    "max_session": 4,
    "resources": [ {"host": "localhost", "port": [9001, 9010]} ],
    "applications": {
        "loader": {
            "cmd": ["pvpython", "loader.py", "--port", "${port}", "--data-dir", "${dataDir}"],
            "dir": "/opt/pvw"
        }
    },
    "properties": {"dataDir": "/data"}
})JSON";

bool parse(const std::string &text, LauncherConfig *cfg, std::string *error) {
    return parse_launcher_config(text, file, cfg, error);
}

// Parses text that must fail and returns the message, which must name the file.
std::string parse_error(const std::string &text) {
    LauncherConfig cfg;
    std::string error;
    if (parse(text, &cfg, &error))
        fail_msg("config was accepted but must be rejected:\n%s", text.c_str());
    assert_contains(error, file);
    return error;
}

// A valid wslink-style config with the given pieces.
std::string wslink(const std::string &configuration, const std::string &resources,
                   const std::string &apps, const std::string &extra = "") {
    return "{\"configuration\": {" + configuration + "},\n\"resources\": " + resources +
           ",\n\"apps\": {" + apps + "}" + (extra.empty() ? "" : ",\n" + extra) + "\n}";
}
const std::string url = "\"sessionURL\": \"ws://h/ws?id=${id}\"";
const std::string res_ok = "[{\"host\": \"localhost\", \"port_range\": [9000, 9010]}]";
const std::string app_ok = "\"app\": {\"cmd\": [\"prog\", \"$port\"]}";

void assert_valid(const std::string &text) {
    LauncherConfig cfg;
    std::string error;
    if (!parse(text, &cfg, &error))
        fail_msg("config rejected: %s\n%s", error.c_str(), text.c_str());
}

bool mentions(const std::vector<std::string> &messages, const std::string &text) {
    for (const auto &m : messages)
        if (m.find(text) != std::string::npos)
            return true;
    return false;
}

bool has_notice(const LauncherConfig &cfg, const std::string &text) {
    return mentions(cfg.notices, text);
}

bool has_warning(const LauncherConfig &cfg, const std::string &text) {
    return mentions(cfg.warnings, text);
}

void wslink_vocabulary(void **) {
    LauncherConfig cfg;
    std::string error;
    if (!parse(wslink_config, &cfg, &error))
        fail_msg("%s", error.c_str());
    assert_str_eq(cfg.file, file);
    assert_str_eq(cfg.session_url, "ws://${host}:${port}/ws");
    assert_str_eq(cfg.log_dir, "/var/log/pv");
    assert_str_eq(cfg.map_file, "/tmp/proxy-mapping.txt");
    assert_true(cfg.timeout == 30.0);
    assert_int_equal(cfg.fields.size(), 3);
    assert_str_eq(cfg.fields[0], "file");
    assert_str_eq(cfg.fields[1], "host");
    assert_str_eq(cfg.fields[2], "port");

    assert_int_equal(cfg.sanitize.size(), 2);
    const SanitizeRule &file_rule = cfg.sanitize.at("file");
    assert_true(file_rule.type == SanitizeRule::Type::in_list);
    assert_int_equal(file_rule.list.size(), 2);
    assert_str_eq(file_rule.list[1], "b.vtk");
    assert_true(file_rule.has_default);
    assert_str_eq(file_rule.default_value, "a.vtk");
    const SanitizeRule &name_rule = cfg.sanitize.at("name");
    assert_true(name_rule.type == SanitizeRule::Type::regexp);
    assert_str_eq(name_rule.pattern, "[a-z]+");
    assert_non_null(name_rule.re.get());
    assert_false(name_rule.has_default);

    assert_int_equal(cfg.resources.size(), 2);
    assert_str_eq(cfg.resources[0].host, "localhost");
    assert_int_equal(cfg.resources[0].port_lo, 9001);
    assert_int_equal(cfg.resources[0].port_hi, 9003);
    assert_str_eq(cfg.resources[1].host, "node2.example.org");
    assert_int_equal(cfg.resources[1].port_lo, 9001);
    assert_int_equal(cfg.resources[1].port_hi, 9001);

    assert_int_equal(cfg.properties.size(), 2);
    assert_str_eq(cfg.properties.at("python_exec"), "/usr/bin/pvpython");
    assert_str_eq(cfg.properties.at("build"), "5");

    assert_int_equal(cfg.apps.size(), 2);
    const App &vis = cfg.apps.at("visualizer");
    assert_int_equal(vis.cmd.size(), 5);
    assert_str_eq(vis.cmd[0], "${python_exec}");
    assert_str_eq(vis.cmd[4], "$port");
    assert_str_eq(vis.dir, "");
    assert_true(vis.env.empty());
    assert_int_equal(vis.ready_lines.size(), 1);
    assert_str_eq(vis.ready_lines[0], "Starting factory");
    const App &cone = cfg.apps.at("cone");
    assert_int_equal(cone.ready_lines.size(), 2);
    assert_str_eq(cone.ready_lines[0], "Ready");
    assert_str_eq(cone.ready_lines[1], "Listening");

    assert_non_null(cfg.session_data.get());
    assert_true(json_is_object(cfg.session_data.get()));
    assert_str_eq(json_string_value(json_object_get(cfg.session_data.get(), "updir")), "/Home");
    assert_int_equal(json_integer_value(json_object_get(cfg.session_data.get(), "n")), 3);

    assert_true(cfg.ready_lines.empty()); // no launcher-wide wait_line
    assert_int_equal(cfg.max_session, 0);
}

void pvw_guide_vocabulary(void **) {
    LauncherConfig cfg;
    std::string error;
    if (!parse(pvw_config, &cfg, &error))
        fail_msg("%s", error.c_str());
    assert_str_eq(cfg.session_url, "ws://localhost:8080/proxy?sessionId=${id}");
    assert_str_eq(cfg.log_dir, "/tmp/pvw-logs");
    assert_str_eq(cfg.map_file, "/tmp/map.txt");
    assert_true(cfg.timeout == 12.5);
    assert_int_equal(cfg.max_session, 4);
    assert_int_equal(cfg.ready_lines.size(), 1);
    assert_str_eq(cfg.ready_lines[0], "Starting factory");
    assert_int_equal(cfg.resources.size(), 1);
    assert_str_eq(cfg.resources[0].host, "localhost");
    assert_int_equal(cfg.resources[0].port_lo, 9001);
    assert_int_equal(cfg.resources[0].port_hi, 9010);
    assert_int_equal(cfg.apps.size(), 1);
    const App &loader = cfg.apps.at("loader");
    assert_int_equal(loader.cmd.size(), 6);
    assert_str_eq(loader.cmd[0], "pvpython");
    assert_str_eq(loader.cmd[5], "${dataDir}");
    assert_str_eq(loader.dir, "/opt/pvw");
    assert_true(loader.ready_lines.empty());
    // The app has none of its own: the launcher's apply.
    assert_int_equal(cfg.ready_lines_for(loader).size(), 1);
    assert_str_eq(cfg.ready_lines_for(loader)[0], "Starting factory");
    assert_str_eq(cfg.properties.at("dataDir"), "/data");
    assert_null(cfg.session_data.get());
    assert_true(cfg.fields.empty());
    assert_true(cfg.sanitize.empty());
}

void wait_line_as_list(void **) {
    LauncherConfig cfg;
    std::string error;
    std::string text = R"JSON({
        "proxy_url": "ws://h/p?id=${id}",
        "wait_line": ["Starting factory", "wslink: Starting"],
        "resources": [{"host": "localhost", "port": [9001, 9002]}],
        "applications": {
            "a": {"cmd": ["x"]},
            "b": {"cmd": ["y"], "wait_line": "own line"}
        }
    })JSON";
    if (!parse(text, &cfg, &error))
        fail_msg("%s", error.c_str());
    assert_int_equal(cfg.ready_lines.size(), 2);
    assert_str_eq(cfg.ready_lines[1], "wslink: Starting");
    assert_int_equal(cfg.ready_lines_for(cfg.apps.at("a")).size(), 2);
    assert_int_equal(cfg.ready_lines_for(cfg.apps.at("b")).size(), 1);
    assert_str_eq(cfg.ready_lines_for(cfg.apps.at("b"))[0], "own line");

    assert_contains(parse_error(R"JSON({"proxy_url": "u", "wait_line": 5,
        "resources": [{"host": "h", "port": [1, 2]}], "applications": {"a": {"cmd": ["x"]}}})JSON"),
                    "wait_line");
    assert_contains(parse_error(R"JSON({"proxy_url": "u", "wait_line": ["ok", 5],
        "resources": [{"host": "h", "port": [1, 2]}], "applications": {"a": {"cmd": ["x"]}}})JSON"),
                    "wait_line");
    assert_contains(parse_error(R"JSON({"proxy_url": "u", "wait_line": "",
        "resources": [{"host": "h", "port": [1, 2]}], "applications": {"a": {"cmd": ["x"]}}})JSON"),
                    "empty");
}

void app_dir_and_env(void **) {
    LauncherConfig cfg;
    std::string error;
    if (!parse(wslink_config, &cfg, &error))
        fail_msg("%s", error.c_str());
    const App &cone = cfg.apps.at("cone");
    assert_str_eq(cone.dir, "/srv/cone");
    assert_int_equal(cone.env.size(), 2);
    // In the order of the file.
    assert_str_eq(cone.env[0].first, "PV_DATA");
    assert_str_eq(cone.env[0].second, "/data/$id");
    assert_str_eq(cone.env[1].first, "OMP_NUM_THREADS");
    assert_str_eq(cone.env[1].second, "2");

    assert_contains(
        parse_error(wslink(url, res_ok, "\"a\": {\"cmd\": [\"x\"], \"env\": [\"A=1\"]}")), "env");
    assert_contains(
        parse_error(wslink(url, res_ok, "\"a\": {\"cmd\": [\"x\"], \"env\": {\"A\": 1}}")),
        "env.A");
    assert_contains(
        parse_error(wslink(url, res_ok, "\"a\": {\"cmd\": [\"x\"], \"env\": {\"A=B\": \"1\"}}")),
        "A=B");
    assert_contains(
        parse_error(wslink(url, res_ok, "\"a\": {\"cmd\": [\"x\"], \"env\": {\"\": \"1\"}}")),
        "invalid variable name");
    assert_contains(parse_error(wslink(url, res_ok, "\"a\": {\"cmd\": [\"x\"], \"dir\": 7}")),
                    "dir");
}

const App &only_app(const std::string &app, LauncherConfig *cfg) {
    std::string error;
    if (!parse(wslink(url, res_ok, app), cfg, &error))
        fail_msg("config rejected: %s", error.c_str());
    return cfg->apps.begin()->second;
}

void app_limits(void **) {
    LauncherConfig cfg;
    const App &a =
        only_app("\"a\": {\"cmd\": [\"x\"], \"limits\": {\"memory\": \"8G\", \"cpu\": \"150%\", "
                 "\"tasks\": 512}}",
                 &cfg);
    assert_true(a.limits.memory == 8ULL << 30);
    assert_true(a.limits.cpu_percent == 150);
    assert_true(a.limits.tasks == 512);
    assert_true(a.limits.any());
    // Plain numbers: bytes and percent; each limit on its own.
    LauncherConfig cfg2;
    const App &b = only_app(
        "\"b\": {\"cmd\": [\"x\"], \"limits\": {\"memory\": 1048576, \"cpu\": 50}}", &cfg2);
    assert_true(b.limits.memory == 1048576 && b.limits.cpu_percent == 50 && b.limits.tasks == 0);
    LauncherConfig cfg3;
    assert_false(only_app(app_ok, &cfg3).limits.any());

    const auto limits = [](const std::string &body) {
        return parse_error(
            wslink(url, res_ok, "\"a\": {\"cmd\": [\"x\"], \"limits\": " + body + "}"));
    };
    assert_contains(limits("[1]"), "limits must be an object");
    assert_contains(limits("{\"memory\": \"8X\"}"), "limits.memory must be a number of bytes");
    assert_contains(limits("{\"memory\": \"G\"}"), "limits.memory");
    assert_contains(limits("{\"memory\": 0}"), "limits.memory");
    assert_contains(limits("{\"memory\": -5}"), "limits.memory");
    assert_contains(limits("{\"memory\": \"99999999999999999999T\"}"), "limits.memory");
    assert_contains(limits("{\"memory\": \"17179869184T\"}"), "limits.memory");
    assert_contains(limits("{\"cpu\": \"1.5\"}"), "limits.cpu must be a percentage");
    assert_contains(limits("{\"cpu\": \"200000%\"}"), "at most 100000%");
    assert_contains(limits("{\"tasks\": \"5%\"}"), "limits.tasks must be a number of tasks");
    assert_contains(limits("{\"tasks\": true}"), "not a boolean");
    assert_contains(limits("{\"swap\": 1}"), "unknown limit \"swap\"");
}

void comments_are_accepted(void **) {
    std::string text = "# leading hash line\n"
                       "// leading slash line\n"
                       "{ /* inline */ \"configuration\": { // trailing\n"
                       "  \"sessionURL\": \"ws://h:80/p?a=1#frag//x/*y*/\" # after value\n"
                       "},\n"
                       "/*\n"
                       " * multi-line\n"
                       " */\n"
                       "\"resources\": [{\"host\": \"localhost\", \"port_range\": [1, 2]}],"
                       "  \"apps\": {\"a\": {\"cmd\": [\"say \\\"//not a comment\\\" #nor\"]}}\n"
                       "}\n"
                       "// trailing comment without newline";
    LauncherConfig cfg;
    std::string error;
    if (!parse(text, &cfg, &error))
        fail_msg("%s", error.c_str());
    // Comment markers inside strings are kept.
    assert_str_eq(cfg.session_url, "ws://h:80/p?a=1#frag//x/*y*/");
    assert_str_eq(cfg.apps.at("a").cmd[0], "say \"//not a comment\" #nor");
}

void directory_is_not_a_config(void **) {
    LauncherConfig cfg;
    std::string error;
    assert_false(load_launcher_config("/tmp", &cfg, &error));
    assert_contains(error, "/tmp");
    assert_contains(error, "not a regular file");
}

void error_column_after_block_comment(void **) {
    LauncherConfig cfg;
    std::string error;
    // the unexpected "," is at column 34 of line 1, as in the file
    assert_false(
        parse_launcher_config("{ /* a long comment here */ \"a\": , }", "c.json", &cfg, &error));
    assert_contains(error, "line 1, column 34");
}

void strip_comments_keeps_newlines(void **) {
    assert_str_eq(strip_comments("a // x\nb"), "a \nb");
    assert_str_eq(strip_comments("a # x\nb"), "a \nb");
    // a block comment becomes spaces, so columns after it stay right
    assert_str_eq(strip_comments("a /* x\ny\nz */ b"), "a     \n \n     b");
    assert_str_eq(strip_comments("\"a//b#c/*d*/\""), "\"a//b#c/*d*/\"");
    assert_str_eq(strip_comments("\"q\\\"//\" // c"), "\"q\\\"//\" ");
    assert_str_eq(strip_comments("1 / 2"), "1 / 2");
    assert_str_eq(strip_comments(""), "");
}

std::string error_line_after(const std::string &comment_block) {
    // The syntax error (a missing value) is on line 7 of the file.
    std::string text = "{\n" + comment_block +
                       "\"proxy_url\": \"ws://x/${id}\",\n"
                       "\"max_session\": 1,\n"
                       "\"timeout\": ,\n"
                       "\"wait_line\": \"x\"\n"
                       "}\n";
    return parse_error(text);
}

void syntax_error_line_numbers_survive_comments(void **) {
    // Lines 2-4: a block comment.
    std::string e = error_line_after("/* one\n   two\n   three */\n");
    assert_contains(e, "line 7");
    // Lines 2-4: line comments of both kinds.
    e = error_line_after("// one\n# two\n// three /* not a block\n");
    assert_contains(e, "line 7");
    // Lines 2-4 with a comment that starts and ends mid-line.
    e = error_line_after("\"log\": \"/tmp\", /* a\n b\n c */ \"map_file\": \"/m\",\n");
    assert_contains(e, "line 7");
    assert_not_contains(e, "line 5");
}

void standalone_keys_give_notices(void **) {
    LauncherConfig cfg;
    std::string error;
    std::string text =
        wslink(url + ", \"host\": \"0.0.0.0\", \"port\": 8080, \"endpoint\": \"paraview\","
                     " \"content\": \"/www\"",
               res_ok, app_ok, "\"url\": \"ws://localhost:8080/ws\"");
    if (!parse(text, &cfg, &error))
        fail_msg("%s", error.c_str());
    assert_true(cfg.notices.size() >= 5);
    assert_true(has_notice(cfg, "configuration.host"));
    assert_true(has_notice(cfg, "configuration.port"));
    assert_true(has_notice(cfg, "configuration.endpoint"));
    assert_true(has_notice(cfg, "configuration.content"));
    assert_true(has_notice(cfg, "standalone"));

    // The guide's top-level "url" alone gives one notice naming it.
    LauncherConfig guide;
    if (!parse(wslink(url, res_ok, app_ok, "\"url\": \"ws://localhost:8080/ws\""), &guide, &error))
        fail_msg("%s", error.c_str());
    assert_int_equal(guide.notices.size(), 1);
    assert_contains(guide.notices[0], "url");

    // A config without any of them has no notice.
    LauncherConfig plain;
    if (!parse(wslink(url, res_ok, app_ok), &plain, &error))
        fail_msg("%s", error.c_str());
    assert_true(plain.notices.empty());
}

void unknown_keys_at_any_level_give_warnings(void **) {
    // wslink ignores keys it does not know; so do we, with a warning each.
    LauncherConfig cfg;
    std::string error;
    if (!parse(wslink(url + ", \"colour\": \"red\"",
                      "[{\"host\": \"h\", \"port_range\": [1, 2], \"ports\": 3}]",
                      "\"app\": {\"cmd\": [\"x\"], \"comand\": [\"y\"]}", "\"flavour\": 1"),
               &cfg, &error))
        fail_msg("%s", error.c_str());
    assert_int_equal(cfg.warnings.size(), 4);
    assert_true(has_warning(cfg, "configuration has an unknown key \"colour\""));
    assert_true(has_warning(cfg, "unknown top-level key \"flavour\""));
    assert_true(has_warning(cfg, "application \"app\" has an unknown key \"comand\""));
    assert_true(has_warning(cfg, "resources[0] has an unknown key \"ports\""));
    assert_false(has_notice(cfg, "colour"));
    // The app and the resource are still read.
    assert_int_equal(cfg.apps.at("app").cmd.size(), 1);
    assert_int_equal(cfg.resources.at(0).port_hi, 2);
    // A known key of the wrong type is still an error.
    std::string e = parse_error(wslink(url, res_ok, "\"app\": {\"cmd\": [\"x\"], \"dir\": 3}"));
    assert_contains(e, "dir must be a string");
}

void error_cmd_missing(void **) {
    std::string e = parse_error(wslink(url, res_ok, "\"myapp\": {\"dir\": \"/tmp\"}"));
    assert_contains(e, "myapp");
    assert_contains(e, "no \"cmd\"");
}

void error_cmd_empty(void **) {
    assert_contains(parse_error(wslink(url, res_ok, "\"myapp\": {\"cmd\": []}")), "empty");
    assert_contains(parse_error(wslink(url, res_ok, "\"myapp\": {\"cmd\": [\"\", \"x\"]}")),
                    "empty");
}

void error_cmd_not_list_of_strings(void **) {
    std::string e = parse_error(wslink(url, res_ok, "\"myapp\": {\"cmd\": \"pvpython app.py\"}"));
    assert_contains(e, "list of strings");
    assert_contains(e, "myapp");
    e = parse_error(wslink(url, res_ok, "\"myapp\": {\"cmd\": [\"pvpython\", 5]}"));
    assert_contains(e, "cmd[1]");
    assert_contains(e, "string");
    e = parse_error(wslink(url, res_ok, "\"myapp\": {\"cmd\": [[\"x\"]]}"));
    assert_contains(e, "string");
    e = parse_error(wslink(url, res_ok, "\"myapp\": [\"x\"]"));
    assert_contains(e, "object");
}

void error_resources(void **) {
    std::string e = parse_error(wslink(url, "[]", app_ok));
    assert_contains(e, "resources");
    assert_contains(e, "empty");
    e = parse_error("{\"configuration\": {" + url + "}, \"apps\": {" + app_ok + "}}");
    assert_contains(e, "resources");
    e = parse_error(wslink(url, "{\"host\": \"localhost\"}", app_ok));
    assert_contains(e, "list");
    e = parse_error(wslink(url, "[{\"port_range\": [1, 2]}]", app_ok));
    assert_contains(e, "host");
    e = parse_error(wslink(url, "[{\"host\": \"h\"}]", app_ok));
    assert_contains(e, "port_range");
    e = parse_error(wslink(url, "[{\"host\": \"h\", \"port_range\": [1, 2, 3]}]", app_ok));
    assert_contains(e, "[first, last]");
}

void error_inverted_port_range(void **) {
    std::string e =
        parse_error(wslink(url, "[{\"host\": \"h\", \"port_range\": [9010, 9000]}]", app_ok));
    assert_contains(e, "inverted");
    assert_contains(e, "9010");
    // A single port is a valid range.
    assert_valid(wslink(url, "[{\"host\": \"h\", \"port_range\": [9000, 9000]}]", app_ok));
}

void error_port_out_of_range(void **) {
    assert_contains(
        parse_error(wslink(url, "[{\"host\": \"h\", \"port_range\": [0, 10]}]", app_ok)),
        "port number");
    assert_contains(
        parse_error(wslink(url, "[{\"host\": \"h\", \"port_range\": [9000, 65536]}]", app_ok)),
        "65536");
    assert_contains(
        parse_error(wslink(url, "[{\"host\": \"h\", \"port_range\": [-5, 10]}]", app_ok)),
        "port number");
    assert_contains(
        parse_error(wslink(url, "[{\"host\": \"h\", \"port\": [\"9000\", 9001]}]", app_ok)),
        "integer");
    assert_contains(
        parse_error(wslink(url, "[{\"host\": \"h\", \"port\": [9000.5, 9001]}]", app_ok)),
        "integer");
    assert_valid(wslink(url, "[{\"host\": \"h\", \"port_range\": [1, 65535]}]", app_ok));
}

void error_overlapping_ranges(void **) {
    std::string e = parse_error(wslink(url,
                                       "[{\"host\": \"h\", \"port_range\": [9000, 9010]},"
                                       " {\"host\": \"h\", \"port_range\": [9010, 9020]}]",
                                       app_ok));
    assert_contains(e, "overlaps");
    assert_contains(e, "resources[1]");
    e = parse_error(wslink(url,
                           "[{\"host\": \"h\", \"port_range\": [9000, 9010]},"
                           " {\"host\": \"other\", \"port_range\": [1, 2]},"
                           " {\"host\": \"h\", \"port_range\": [9003, 9004]}]",
                           app_ok));
    assert_contains(e, "overlaps");
    // Same ports on different hosts, and adjacent ranges, are fine.
    assert_valid(wslink(url,
                        "[{\"host\": \"h1\", \"port_range\": [9000, 9010]},"
                        " {\"host\": \"h2\", \"port_range\": [9000, 9010]},"
                        " {\"host\": \"h1\", \"port_range\": [9011, 9020]}]",
                        app_ok));
}

void error_bad_host_name(void **) {
    const char *bad[] = {"local host", "evil/../x", "h:80", "h\\nx", "", "h;rm", "\\u00e9t\\u00e9"};
    for (const char *h : bad) {
        std::string e = parse_error(wslink(
            url, std::string("[{\"host\": \"") + h + "\", \"port_range\": [1, 2]}]", app_ok));
        assert_contains(e, "host name");
    }
    assert_contains(parse_error(wslink(url, "[{\"host\": 127, \"port_range\": [1, 2]}]", app_ok)),
                    "string");
    assert_valid(
        wslink(url, "[{\"host\": \"node-1.example.org\", \"port_range\": [1, 2]}]", app_ok));
    assert_valid(wslink(url, "[{\"host\": \"127.0.0.1\", \"port_range\": [1, 2]}]", app_ok));
    assert_true(valid_host("Node-1.example.ORG"));
    assert_false(valid_host(std::string(101, 'a')));
    assert_true(valid_host(std::string(100, 'a')));
}

void error_bad_sanitize(void **) {
    std::string e = parse_error(wslink(
        url + ", \"sanitize\": {\"f\": {\"type\": \"inlist\", \"list\": []}}", res_ok, app_ok));
    assert_contains(e, "unknown type");
    assert_contains(e, "inlist");
    e = parse_error(wslink(url + ", \"sanitize\": {\"f\": {\"type\": 1}}", res_ok, app_ok));
    assert_contains(e, "type");
    e = parse_error(wslink(url + ", \"sanitize\": {\"f\": {\"list\": [\"a\"]}}", res_ok, app_ok));
    assert_contains(e, "no \"type\"");
    e = parse_error(
        wslink(url + ", \"sanitize\": {\"f\": {\"type\": \"inList\"}}", res_ok, app_ok));
    assert_contains(e, "no \"list\"");
    e = parse_error(wslink(url + ", \"sanitize\": {\"f\": {\"type\": \"inList\", \"list\": \"a\"}}",
                           res_ok, app_ok));
    assert_contains(e, "list of strings");
    e = parse_error(
        wslink(url + ", \"sanitize\": {\"f\": {\"type\": \"regexp\"}}", res_ok, app_ok));
    assert_contains(e, "no \"regexp\"");
    e = parse_error(wslink(url + ", \"sanitize\": [1]", res_ok, app_ok));
    assert_contains(e, "sanitize");
    e = parse_error(wslink(url + ", \"sanitize\": {\"f\": {\"type\": \"inList\", \"list\": [\"a\"],"
                                 " \"default\": [\"a\"]}}",
                           res_ok, app_ok));
    assert_contains(e, "default");
}

// A wslink config whose sanitize object is `rules` (JSON text).
std::string with_sanitize(const std::string &rules) {
    return wslink(url + ", \"sanitize\": {" + rules + "}", res_ok, app_ok);
}

void error_invalid_regexp(void **) {
    std::string e = parse_error(with_sanitize(R"("f": {"type": "regexp", "regexp": "[a-z"})"));
    assert_contains(e, "sanitize rule \"f\" regexp \"[a-z\" is invalid");
    assert_contains(e, "missing ]");
    e = parse_error(with_sanitize(R"("f": {"type": "regexp", "regexp": "(ab"})"));
    assert_contains(e, "invalid");
    // What needs backtracking fails the load with the rule named and the reason.
    e = parse_error(with_sanitize(R"("name": {"type": "regexp", "regexp": "^(\\w)\\1$"})"));
    assert_contains(e, "sanitize rule \"name\"");
    assert_contains(e, "backreference \\1");
    assert_contains(e, "needs a backtracking engine");
    e = parse_error(with_sanitize(R"("file": {"type": "regexp", "regexp": "(?!\\.).*"})"));
    assert_contains(e, "sanitize rule \"file\"");
    assert_contains(e, "lookahead (?!");
    assert_contains(e, "linear time");
}

// Warnings starting with the rule's name, for rule `key`.
std::vector<std::string> rule_warnings(const LauncherConfig &cfg, const std::string &key) {
    std::vector<std::string> out;
    for (const auto &n : cfg.warnings)
        if (n.rfind("sanitize rule \"" + key + "\": ", 0) == 0)
            out.push_back(n);
    return out;
}

void python_regexps_load_with_warnings(void **) {
    LauncherConfig cfg;
    std::string error;
    std::string text = with_sanitize(R"(
        "whole": {"type": "regexp", "regexp": "^[a-z]+$"},
        "python": {"type": "regexp", "regexp": "(?i)^[a-z]+\\Z"},
        "prefix": {"type": "regexp", "regexp": "[a-z]+"},
        "either": {"type": "regexp", "regexp": "^a$|^b$"},
        "named": {"type": "regexp", "regexp": "(?P<name>\\w+)$"},
        "both": {"type": "regexp", "regexp": "\\d+"},
        "ascii": {"type": "regexp", "regexp": "(?a)\\bx\\s\\d$"},
        "list": {"type": "inList", "list": ["a"]},
        "noted": {"type": "inList", "list": ["a"], "comment": "x"})");
    if (!parse(text, &cfg, &error))
        fail_msg("%s", error.c_str());
    assert_true(cfg.sanitize.at("python").re->full_match("AbC"));
    assert_false(cfg.sanitize.at("python").re->full_match("AbC1"));
    assert_true(cfg.sanitize.at("named").re->full_match("alice"));

    for (const char *quiet : {"whole", "python", "ascii", "list"})
        if (!rule_warnings(cfg, quiet).empty())
            fail_msg("rule %s: unexpected warning %s", quiet, rule_warnings(cfg, quiet)[0].c_str());

    auto prefix = rule_warnings(cfg, "prefix");
    assert_int_equal(prefix.size(), 1);
    assert_str_eq(prefix[0],
                  "sanitize rule \"prefix\": regexp \"[a-z]+\" is not anchored at its end: wslink "
                  "(Python re.match) accepts any value that merely starts with a match, "
                  "mod_pvlaunch requires the whole value to match (end the pattern with $ or \\Z "
                  "to have both match whole values)");
    assert_int_equal(rule_warnings(cfg, "either").size(), 1);
    assert_contains(rule_warnings(cfg, "either")[0], "not anchored");

    auto named = rule_warnings(cfg, "named");
    assert_int_equal(named.size(), 1);
    assert_str_eq(named[0], "sanitize rule \"named\": regexp \"(?P<name>\\w+)$\" uses \\w: wslink "
                            "(Python) matches them against Unicode characters, mod_pvlaunch "
                            "against ASCII only (start the pattern with (?a) to have both use "
                            "ASCII)");

    // Unknown keys in a rule are ignored, with a warning.
    assert_true(has_warning(cfg, "sanitize rule \"noted\" has an unknown key \"comment\""));
    assert_int_equal(cfg.sanitize.at("noted").list.size(), 1);

    auto both = rule_warnings(cfg, "both");
    assert_int_equal(both.size(), 2);
    assert_contains(both[0], "not anchored");
    assert_contains(both[1], "uses \\d:");
}

void error_timeout_not_positive(void **) {
    assert_contains(parse_error(wslink(url + ", \"timeout\": 0", res_ok, app_ok)), "timeout");
    assert_contains(parse_error(wslink(url + ", \"timeout\": -3", res_ok, app_ok)), "timeout");
    assert_contains(parse_error(wslink(url, res_ok, app_ok, "\"timeout\": 0")), "timeout");
    assert_contains(parse_error(wslink(url, res_ok, app_ok, "\"timeout\": -0.5")), "timeout");
    assert_contains(parse_error(wslink(url, res_ok, app_ok, "\"timeout\": \"10\"")), "timeout");
    LauncherConfig cfg;
    std::string error;
    assert_true(parse(wslink(url, res_ok, app_ok, "\"timeout\": 0.25"), &cfg, &error));
    assert_true(cfg.timeout == 0.25);
    assert_true(parse(wslink(url, res_ok, app_ok), &cfg, &error));
    assert_true(cfg.timeout == 25.0); // the default
}

void per_user_limits(void **) {
    LauncherConfig cfg;
    std::string error;
    // Top level (the ParaViewWeb launcher's place for max_session), in
    // wslink's "configuration", and per application.
    if (!parse(wslink(url, res_ok, "\"a\": {\"cmd\": [\"x\"], \"max_session_per_user\": 1}",
                      "\"max_session_per_user\": 3"),
               &cfg, &error))
        fail_msg("config rejected: %s", error.c_str());
    assert_int_equal(cfg.max_session_per_user, 3);
    assert_int_equal(cfg.apps.at("a").max_session_per_user, 1);
    LauncherConfig cfg2;
    if (!parse(wslink(url + ", \"max_session_per_user\": 2", res_ok, app_ok), &cfg2, &error))
        fail_msg("config rejected: %s", error.c_str());
    assert_int_equal(cfg2.max_session_per_user, 2);
    assert_int_equal(cfg2.apps.at("app").max_session_per_user, 0);
    assert_contains(parse_error(wslink(url, res_ok, app_ok, "\"max_session_per_user\": -1")),
                    "max_session_per_user must be a whole number");
    assert_contains(parse_error(wslink(
                        url, res_ok, "\"a\": {\"cmd\": [\"x\"], \"max_session_per_user\": \"2\"}")),
                    "application \"a\" max_session_per_user");
    assert_contains(parse_error(wslink(url + ", \"max_session_per_user\": 1.5", res_ok, app_ok)),
                    "configuration.max_session_per_user");
}

void error_max_session(void **) {
    assert_contains(parse_error(wslink(url, res_ok, app_ok, "\"max_session\": -1")), "max_session");
    assert_contains(parse_error(wslink(url, res_ok, app_ok, "\"max_session\": 2.5")),
                    "max_session");
}

void error_both_apps_and_applications(void **) {
    std::string e =
        parse_error(wslink(url, res_ok, app_ok, "\"applications\": {\"b\": {\"cmd\": [\"y\"]}}"));
    assert_contains(e, "both");
    assert_contains(e, "applications");
}

void error_no_application(void **) {
    assert_contains(parse_error(wslink(url, res_ok, "")), "no application");
}

void error_no_session_url(void **) {
    std::string e = parse_error(wslink("\"timeout\": 5", res_ok, app_ok));
    assert_contains(e, "session URL");
    e = parse_error(R"JSON({"resources": [{"host": "h", "port": [1, 2]}],
                           "applications": {"a": {"cmd": ["x"]}}})JSON");
    assert_contains(e, "session URL");
}

void error_duplicate_key(void **) {
    std::string e =
        parse_error(wslink(url, res_ok, app_ok, "\"apps\": {\"b\": {\"cmd\": [\"y\"]}}"));
    assert_contains(e, "duplicate");
    e = parse_error(wslink(url, res_ok, app_ok + ", " + app_ok));
    assert_contains(e, "duplicate");
    e = parse_error(wslink(url + ", " + url, res_ok, app_ok));
    assert_contains(e, "duplicate");
}

void error_not_an_object(void **) {
    assert_contains(parse_error("[1, 2]"), "object");
    assert_contains(parse_error(""), "line 1");
    assert_contains(parse_error(wslink(url, res_ok, app_ok, "\"properties\": {\"p\": [1]}")),
                    "property \"p\"");
    assert_contains(parse_error(wslink(url, res_ok, app_ok, "\"sessionData\": [1]")),
                    "sessionData");
}

void error_is_set_only_on_failure(void **) {
    LauncherConfig cfg;
    cfg.session_url = "kept";
    std::string error;
    assert_false(parse(wslink(url, "[]", app_ok), &cfg, &error));
    // *out is untouched by a failed parse.
    assert_str_eq(cfg.session_url, "kept");
}

void load_unreadable_file(void **) {
    LauncherConfig cfg;
    std::string error;
    assert_false(load_launcher_config("/nonexistent/x.json", &cfg, &error));
    assert_contains(error, "/nonexistent/x.json");
    assert_contains(error, "No such file");
}

void load_file_from_disk(void **) {
    char path[] = "/tmp/pvl-unit-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    std::string text = pvw_config;
    assert_int_equal(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    close(fd);
    LauncherConfig cfg;
    std::string error;
    bool ok = load_launcher_config(path, &cfg, &error);
    std::string file_name = cfg.file;
    std::remove(path);
    if (!ok)
        fail_msg("%s", error.c_str());
    assert_str_eq(file_name, path);
    assert_str_eq(cfg.apps.at("loader").dir, "/opt/pvw");
    // Apps without a dir start in the config file's directory.
    assert_str_eq(cfg.dir, "/tmp");

    // Errors in a loaded file name its path.
    char bad_path[] = "/tmp/pvl-unit-config-XXXXXX";
    fd = mkstemp(bad_path);
    assert_true(fd >= 0);
    text = "{\n\"proxy_url\": 1\n}\n";
    assert_int_equal(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    close(fd);
    ok = load_launcher_config(bad_path, &cfg, &error);
    std::remove(bad_path);
    assert_false(ok);
    assert_contains(error, bad_path);
    assert_contains(error, "proxy_url");
}

// "slurm" on an app and at the top level (issue 14).
void slurm_apps(void **) {
    const std::string slurm_app =
        "\"viz\": {\"cmd\": [\"pvpython\", \"--port\", \"${port}\"], \"slurm\": "
        "{\"options\": [\"--partition=viz\", \"--gres=gpu:1\"]}}";
    LauncherConfig cfg;
    std::string error;
    assert_true(parse(wslink(url, res_ok, app_ok + ", " + slurm_app,
                             "\"slurm\": {\"host_regex\": \"node[0-9]+\", \"max_jobs\": 12, "
                             "\"poll_interval\": 0.5}"),
                      &cfg, &error));
    assert_true(cfg.apps.at("viz").slurm);
    assert_false(cfg.apps.at("app").slurm);
    assert_int_equal(cfg.apps.at("viz").slurm_options.size(), 2);
    assert_true(cfg.slurm.host_re->full_match("node12"));
    assert_false(cfg.slurm.host_re->full_match("evil.node12"));
    assert_int_equal(cfg.slurm.max_jobs, 12);
    assert_int_equal(cfg.slurm_slots(), 12);
    assert_true(cfg.has_local_apps() && cfg.has_slurm_apps());
    // Slurm apps alone need no resources.
    assert_valid("{\"configuration\": {" + url + "}, \"apps\": {" + slurm_app + "}}");
    assert_contains(parse_error("{\"configuration\": {" + url + "}, \"apps\": {" + app_ok + "}}"),
                    "no \"resources\"");
    // What the launcher sets itself, and what is not an option.
    for (const char *opt : {"--output=/x", "-o", "--wrap=x", "--parsable", "-ofile", "--hold"})
        assert_contains(parse_error(wslink(url, res_ok,
                                           "\"v\": {\"cmd\": [\"x\"], \"slurm\": {\"options\": "
                                           "[\"" +
                                               std::string(opt) + "\"]}}")),
                        "is set by mod_pvlaunch");
    assert_valid(wslink(url, res_ok,
                        "\"v\": {\"cmd\": [\"x\"], \"slurm\": {\"options\": [\"--output-x\"]}}"));
    assert_contains(parse_error(wslink(url, res_ok,
                                       "\"v\": {\"cmd\": [\"x\"], \"slurm\": {\"options\": "
                                       "[\"partition=viz\"]}}")),
                    "is not an sbatch option");
    assert_contains(
        parse_error(wslink(url, res_ok, "\"v\": {\"cmd\": [\"x\"], \"slurm\": {\"opts\": []}}")),
        "unknown key \"opts\"");
    assert_contains(parse_error(wslink(url, res_ok, "\"v\": {\"cmd\": [\"x\"], \"slurm\": []}")),
                    "must be an object");
    assert_contains(parse_error(wslink(url, res_ok,
                                       "\"v\": {\"cmd\": [\"x\"], \"limits\": {\"tasks\": 5}, "
                                       "\"slurm\": {\"options\": []}}")),
                    "a job's limits are sbatch options");
    assert_contains(parse_error(wslink(url, res_ok, app_ok, "\"slurm\": {\"host_regex\": \"(\"}")),
                    "slurm.host_regex");
    assert_contains(parse_error(wslink(url, res_ok, app_ok, "\"slurm\": {\"max_jobs\": 0}")),
                    "slurm.max_jobs");
    assert_contains(parse_error(wslink(url, res_ok, app_ok, "\"slurm\": {\"poll\": 1}")),
                    "unknown key \"poll\"");
}

} // namespace

int run_config_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wslink_vocabulary),
        cmocka_unit_test(pvw_guide_vocabulary),
        cmocka_unit_test(wait_line_as_list),
        cmocka_unit_test(app_dir_and_env),
        cmocka_unit_test(app_limits),
        cmocka_unit_test(comments_are_accepted),
        cmocka_unit_test(strip_comments_keeps_newlines),
        cmocka_unit_test(directory_is_not_a_config),
        cmocka_unit_test(error_column_after_block_comment),
        cmocka_unit_test(syntax_error_line_numbers_survive_comments),
        cmocka_unit_test(standalone_keys_give_notices),
        cmocka_unit_test(unknown_keys_at_any_level_give_warnings),
        cmocka_unit_test(error_cmd_missing),
        cmocka_unit_test(error_cmd_empty),
        cmocka_unit_test(error_cmd_not_list_of_strings),
        cmocka_unit_test(error_resources),
        cmocka_unit_test(error_inverted_port_range),
        cmocka_unit_test(error_port_out_of_range),
        cmocka_unit_test(error_overlapping_ranges),
        cmocka_unit_test(error_bad_host_name),
        cmocka_unit_test(error_bad_sanitize),
        cmocka_unit_test(error_invalid_regexp),
        cmocka_unit_test(python_regexps_load_with_warnings),
        cmocka_unit_test(error_timeout_not_positive),
        cmocka_unit_test(error_max_session),
        cmocka_unit_test(per_user_limits),
        cmocka_unit_test(error_both_apps_and_applications),
        cmocka_unit_test(error_no_application),
        cmocka_unit_test(error_no_session_url),
        cmocka_unit_test(error_duplicate_key),
        cmocka_unit_test(error_not_an_object),
        cmocka_unit_test(error_is_set_only_on_failure),
        cmocka_unit_test(load_unreadable_file),
        cmocka_unit_test(load_file_from_disk),
        cmocka_unit_test(slurm_apps),
    };
    return cmocka_run_group_tests_name("config", tests, nullptr, nullptr);
}
