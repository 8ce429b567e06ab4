// From POST payload to argv and response: src/core/launch_plan.h.
#include "core/launch_plan.h"

#include <cstring>
#include <string>

// Last: cmocka defines fail() and friends, which clash with <ios>.
#include "unit.h"

using namespace pvl;

namespace {

const char *const launcher = R"JSON({
  "configuration": {
    "sessionURL": "ws://${host}:${port}/ws?sessionId=${id}&app=$application",
    "fields": ["host"],
    "sanitize": {
      "file": {"type": "inList", "list": ["a.vtk", "b.vtk"], "default": "a.vtk"},
      "name": {"type": "regexp", "regexp": "[a-z]+", "default": "anon"},
      "strict": {"type": "regexp", "regexp": "[a-z]+"},
      "mode": {"type": "inList", "list": ["fast", "slow"]}
    }
  },
  "properties": {"python_exec": "/usr/bin/pvpython", "build": 7},
  "resources": [{"host": "localhost", "port_range": [9000, 9010]}],
  "sessionData": {"user": "${name}", "const": 5, "where": "$host:$port", "flag": true},
  "wait_line": "launcher-wide ready",
  "apps": {
    "vis": {
      "cmd": ["$python_exec", "vis.py", "--host", "$host", "--port", "${port}",
              "--authKey", "$secret", "--id", "$id", "--app", "$application", "--build", "$build"],
      "ready_line": ["Starting factory", "wslink: Starting"]
    },
    "files": {
      "cmd": ["prog", "--data", "$file", "--name", "${name}", "--count", "$count",
              "--ratio", "$ratio", "--on", "$on", "--cost", "$$5"],
      "dir": "/work/$id",
      "env": {"SESSION": "$id-$port", "USER_NAME": "$name"}
    },
    "needs": {"cmd": ["prog", "--x", "${missing_thing}"]},
    "strictapp": {"cmd": ["prog", "$strict"]},
    "modeapp": {"cmd": ["prog", "$mode"]}
  }
})JSON";

struct Fixture {
    LauncherConfig cfg;
    ServerVars vars;
};

Fixture fixture(const std::string &text = launcher) {
    Fixture f;
    std::string error;
    if (!parse_launcher_config(text, "plan-test.json", &f.cfg, &error))
        fail_msg("fixture config rejected: %s", error.c_str());
    f.vars.id = "ID123";
    f.vars.host = "localhost";
    f.vars.port = 9004;
    f.vars.secret = "GENERATED";
    return f;
}

JsonPtr payload(const std::string &text) {
    LaunchError err;
    JsonPtr p = parse_payload(text.data(), text.size(), &err);
    if (!p)
        fail_msg("payload %s rejected: %s", text.c_str(), err.message.c_str());
    return p;
}

// check_payload + plan_launch, as the daemon does; fails the test on error.
LaunchPlan plan_ok(Fixture &f, const std::string &body) {
    JsonPtr p = payload(body);
    LaunchError err;
    std::string app;
    if (!check_payload(f.cfg, p.get(), &app, &err))
        fail_msg("check_payload(%s): %d %s", body.c_str(), err.status, err.message.c_str());
    f.vars.application = app;
    LaunchPlan plan;
    if (!plan_launch(f.cfg, p.get(), f.vars, &plan, &err))
        fail_msg("plan_launch(%s): %d %s", body.c_str(), err.status, err.message.c_str());
    return plan;
}

// Runs a launch that must fail with 400 and returns the message; `policy`
// is the form interface's by default, which requires every variable.
std::string plan_400(Fixture &f, const std::string &body, Unresolved policy = Unresolved::reject) {
    JsonPtr p = payload(body);
    LaunchError err;
    std::string app;
    if (!check_payload(f.cfg, p.get(), &app, &err))
        fail_msg("check_payload(%s) failed early: %s", body.c_str(), err.message.c_str());
    f.vars.application = app;
    LaunchPlan plan;
    if (plan_launch(f.cfg, p.get(), f.vars, &plan, &err, policy))
        fail_msg("plan_launch(%s) was accepted", body.c_str());
    assert_int_equal(err.status, 400);
    return err.message;
}

std::string arg_after(const LaunchPlan &plan, const std::string &flag) {
    for (size_t i = 0; i + 1 < plan.argv.size(); ++i)
        if (plan.argv[i] == flag)
            return plan.argv[i + 1];
    fail_msg("argv has no %s", flag.c_str());
    return "";
}

std::string resp_str(const LaunchPlan &plan, const char *key) {
    json_t *v = json_object_get(plan.response.get(), key);
    if (!json_is_string(v))
        fail_msg("response %s has no string \"%s\"", json_to_string(plan.response.get()).c_str(),
                 key);
    return json_string_value(v);
}

void parse_payload_accepts_objects(void **) {
    LaunchError err;
    const char body[] = "{\"application\": \"vis\", \"n\": 1}";
    JsonPtr p = parse_payload(body, std::strlen(body), &err);
    assert_non_null(p.get());
    assert_true(json_is_object(p.get()));
    assert_str_eq(json_string_value(json_object_get(p.get(), "application")), "vis");
    // Only `len` bytes are read.
    const char longer[] = "{}garbage";
    p = parse_payload(longer, 2, &err);
    assert_non_null(p.get());
}

void parse_payload_rejects_non_json(void **) {
    const char *bad[] = {
        "", "not json", "{\"application\": ", "{'a': 1}", "{\"a\": 1} {}", "{\"a\": 1, \"a\": 2}"};
    for (const char *body : bad) {
        LaunchError err;
        JsonPtr p = parse_payload(body, std::strlen(body), &err);
        if (p)
            fail_msg("payload \"%s\" was accepted", body);
        assert_int_equal(err.status, 400);
        assert_contains(err.message, "JSON");
    }
}

void parse_payload_rejects_non_objects(void **) {
    // Arrays are JSON but not an object.
    const char *arrays[] = {"[]", "[{\"application\": \"vis\"}]"};
    for (const char *body : arrays) {
        LaunchError err;
        JsonPtr p = parse_payload(body, std::strlen(body), &err);
        if (p)
            fail_msg("payload %s was accepted", body);
        assert_int_equal(err.status, 400);
        assert_contains(err.message, "object");
    }
    // Bare scalars are refused too (jansson reports them as not JSON).
    const char *scalars[] = {"\"vis\"", "42", "null", "true"};
    for (const char *body : scalars) {
        LaunchError err;
        JsonPtr p = parse_payload(body, std::strlen(body), &err);
        if (p)
            fail_msg("payload %s was accepted", body);
        assert_int_equal(err.status, 400);
        assert_false(err.message.empty());
    }
}

void check_payload_application(void **) {
    Fixture f = fixture();
    LaunchError err;
    std::string app;

    JsonPtr p = payload("{\"file\": \"a.vtk\"}");
    assert_false(check_payload(f.cfg, p.get(), &app, &err));
    assert_int_equal(err.status, 400);
    assert_contains(err.message, "application");

    err = LaunchError();
    p = payload("{\"application\": 3}");
    assert_false(check_payload(f.cfg, p.get(), &app, &err));
    assert_int_equal(err.status, 400);
    assert_contains(err.message, "string");

    err = LaunchError();
    p = payload("{\"application\": [\"vis\"]}");
    assert_false(check_payload(f.cfg, p.get(), &app, &err));
    assert_int_equal(err.status, 400);

    err = LaunchError();
    p = payload("{\"application\": \"paraview-evil\"}");
    assert_false(check_payload(f.cfg, p.get(), &app, &err));
    assert_int_equal(err.status, 400);
    assert_contains(err.message, "paraview-evil");
    assert_contains(err.message, "unknown");

    err = LaunchError();
    p = payload("{\"application\": \"Vis\"}"); // names are case-sensitive
    assert_false(check_payload(f.cfg, p.get(), &app, &err));

    err = LaunchError();
    p = payload("{\"application\": \"vis\"}");
    assert_true(check_payload(f.cfg, p.get(), &app, &err));
    assert_str_eq(app, "vis");
}

void argv_from_server_vars_and_properties(void **) {
    Fixture f = fixture();
    LaunchPlan plan = plan_ok(f, "{\"application\": \"vis\"}");
    assert_int_equal(plan.argv.size(), 14);
    assert_str_eq(plan.argv[0], "/usr/bin/pvpython");
    assert_str_eq(plan.argv[1], "vis.py");
    assert_str_eq(arg_after(plan, "--host"), "localhost");
    assert_str_eq(arg_after(plan, "--port"), "9004");
    assert_str_eq(arg_after(plan, "--authKey"), "GENERATED");
    assert_str_eq(arg_after(plan, "--id"), "ID123");
    assert_str_eq(arg_after(plan, "--app"), "vis");
    assert_str_eq(arg_after(plan, "--build"), "7");
    assert_str_eq(plan.application, "vis");
    assert_str_eq(plan.secret, "GENERATED");
}

void argv_from_payload(void **) {
    Fixture f = fixture();
    LaunchPlan plan =
        plan_ok(f, "{\"application\": \"files\", \"file\": \"b.vtk\", \"name\": \"bob\","
                   " \"count\": 12, \"ratio\": 0.5, \"on\": true}");
    assert_str_eq(plan.argv[0], "prog");
    assert_str_eq(arg_after(plan, "--data"), "b.vtk");
    assert_str_eq(arg_after(plan, "--name"), "bob");
    assert_str_eq(arg_after(plan, "--count"), "12");
    assert_str_eq(arg_after(plan, "--ratio"), "0.5");
    assert_str_eq(arg_after(plan, "--on"), "true");
    assert_str_eq(arg_after(plan, "--cost"), "$5");
    // dir and env are substituted too.
    assert_str_eq(plan.dir, "/work/ID123");
    assert_int_equal(plan.env.size(), 2);
    assert_str_eq(plan.env[0].first, "SESSION");
    assert_str_eq(plan.env[0].second, "ID123-9004");
    assert_str_eq(plan.env[1].first, "USER_NAME");
    assert_str_eq(plan.env[1].second, "bob");
}

void payload_values_are_not_re_expanded(void **) {
    Fixture f = fixture();
    // A value that looks like a template stays as sent.
    LaunchPlan plan =
        plan_ok(f, "{\"application\": \"files\", \"file\": \"a.vtk\", \"name\": \"bob\","
                   " \"count\": \"$secret\", \"ratio\": \"${python_exec}\", \"on\": \"$$\"}");
    assert_str_eq(arg_after(plan, "--count"), "$secret");
    assert_str_eq(arg_after(plan, "--ratio"), "${python_exec}");
    assert_str_eq(arg_after(plan, "--on"), "$$");
}

void payload_cannot_override_server_or_properties(void **) {
    Fixture f = fixture();
    LaunchPlan plan = plan_ok(f, "{\"application\": \"vis\", \"host\": \"evil\", \"port\": 1,"
                                 " \"id\": \"evil-id\", \"python_exec\": \"/bin/evil\","
                                 " \"build\": \"evil\"}");
    assert_str_eq(plan.argv[0], "/usr/bin/pvpython");
    assert_str_eq(arg_after(plan, "--host"), "localhost");
    assert_str_eq(arg_after(plan, "--port"), "9004");
    assert_str_eq(arg_after(plan, "--id"), "ID123");
    assert_str_eq(arg_after(plan, "--app"), "vis");
    assert_str_eq(arg_after(plan, "--build"), "7");
    // The response's id is the server's as well, and so is the session URL.
    assert_str_eq(resp_str(plan, "id"), "ID123");
    assert_str_eq(resp_str(plan, "sessionURL"), "ws://localhost:9004/ws?sessionId=ID123&app=vis");
    // "host" is in fields: the server's value is answered. "port" is not,
    // but the payload named it: the server's value too, never the payload's.
    assert_str_eq(resp_str(plan, "host"), "localhost");
    assert_int_equal(json_integer_value(json_object_get(plan.response.get(), "port")), 9004);
    // Without them in the payload or fields, neither is answered.
    plan = plan_ok(f, "{\"application\": \"vis\"}");
    assert_null(json_object_get(plan.response.get(), "port"));
}

void user_var_is_apaches_never_the_payloads(void **) {
    Fixture f = fixture(R"({"configuration": {"sessionURL": "ws://h/$id"},
        "resources": [{"host": "localhost", "port_range": [9000, 9001]}],
        "apps": {"a": {"cmd": ["prog", "--user=${user}"], "env": {"OWNER": "$user"}}}})");
    f.vars.application = "a";
    f.vars.user = "alice";
    LaunchPlan plan = plan_ok(f, "{\"application\": \"a\", \"user\": \"mallory\"}");
    assert_str_eq(plan.argv[1], "--user=alice");
    assert_str_eq(plan.env[0].second, "alice");
    // the payload's own key is still echoed as sent (seed 000: the answer is
    // the request plus the server's keys); it just never reaches ${user}
    assert_str_eq(resp_str(plan, "user"), "mallory");
    // without authentication: empty, still not the payload's
    f.vars.user.clear();
    plan = plan_ok(f, "{\"application\": \"a\", \"user\": \"mallory\"}");
    assert_str_eq(plan.argv[1], "--user=");
    assert_true(plan.unresolved.empty());
}

void application_var_is_the_server_one(void **) {
    Fixture f = fixture();
    // Even when a caller passes vars.application, $application and the
    // response's "application" come from it, not from elsewhere.
    LaunchPlan plan = plan_ok(f, "{\"application\": \"vis\"}");
    assert_str_eq(resp_str(plan, "application"), "vis");
    assert_str_eq(arg_after(plan, "--app"), "vis");
}

void client_secret_replaces_generated(void **) {
    Fixture f = fixture();
    LaunchPlan plan = plan_ok(f, "{\"application\": \"vis\", \"secret\": \"client-chosen\"}");
    assert_str_eq(arg_after(plan, "--authKey"), "client-chosen");
    assert_str_eq(plan.secret, "client-chosen");
    assert_str_eq(resp_str(plan, "secret"), "client-chosen");
    assert_not_contains(json_to_string(plan.response.get()), "GENERATED");

    // Without one, the generated secret is used and answered.
    plan = plan_ok(f, "{\"application\": \"vis\"}");
    assert_str_eq(arg_after(plan, "--authKey"), "GENERATED");
    assert_str_eq(plan.secret, "GENERATED");
    assert_str_eq(resp_str(plan, "secret"), "GENERATED");
}

void client_secret_goes_through_sanitize(void **) {
    // A rule on "secret" must hold for argv, the plan and the answer alike.
    std::string text = launcher;
    text.replace(text.find("\"sanitize\": {") + 13, 0,
                 "\n      \"secret\": {\"type\": \"regexp\", \"regexp\": \"[A-Za-z0-9]{8,}\", "
                 "\"default\": \"fallbackSECRET\"},");
    Fixture f = fixture(text);
    LaunchPlan plan = plan_ok(f, "{\"application\": \"vis\", \"secret\": \"x; $(evil)\"}");
    assert_str_eq(arg_after(plan, "--authKey"), "fallbackSECRET");
    assert_str_eq(plan.secret, "fallbackSECRET");
    assert_str_eq(resp_str(plan, "secret"), "fallbackSECRET");
    plan = plan_ok(f, "{\"application\": \"vis\", \"secret\": \"GoodSecret99\"}");
    assert_str_eq(arg_after(plan, "--authKey"), "GoodSecret99");
}

void secret_only_for_apps_that_take_one(void **) {
    // "files" uses no ${secret}: none is generated or answered, as wslink
    // does, so that SmartConnect falls back to the app's default secret.
    Fixture f = fixture();
    LaunchPlan plan = plan_ok(f, "{\"application\": \"files\", \"file\": \"a.vtk\", "
                                 "\"name\": \"x\", \"count\": 1, \"ratio\": 2, \"on\": 3}");
    assert_str_eq(plan.secret, "");
    assert_null(json_object_get(plan.response.get(), "secret"));
    assert_not_contains(json_to_string(plan.response.get()), "GENERATED");
    // A client-sent secret still wins, and is echoed.
    plan = plan_ok(f, "{\"application\": \"needs\", \"missing_thing\": 1, "
                      "\"secret\": \"mine\"}");
    assert_str_eq(plan.secret, "mine");
    assert_str_eq(resp_str(plan, "secret"), "mine");

    // Any template counts: env, dir, sessionURL, sessionData; and `fields`.
    const char *const uses[] = {
        R"({"configuration": {"sessionURL": "ws://h/$id"}, "resources": [{"host": "h",
           "port_range": [1, 2]}], "apps": {"a": {"cmd": ["p"], "env": {"K": "$secret"}}}})",
        R"({"configuration": {"sessionURL": "ws://h/$id"}, "resources": [{"host": "h",
           "port_range": [1, 2]}], "apps": {"a": {"cmd": ["p"], "dir": "/d/${secret}"}}})",
        R"({"configuration": {"sessionURL": "ws://h/$id?k=${secret}"}, "resources": [{"host": "h",
           "port_range": [1, 2]}], "apps": {"a": {"cmd": ["p"]}}})",
        R"({"configuration": {"sessionURL": "ws://h/$id"}, "sessionData": {"s": "$secret"},
           "resources": [{"host": "h", "port_range": [1, 2]}], "apps": {"a": {"cmd": ["p"]}}})",
        R"({"configuration": {"sessionURL": "ws://h/$id", "fields": ["secret"]}, "resources":
           [{"host": "h", "port_range": [1, 2]}], "apps": {"a": {"cmd": ["p"]}}})",
    };
    for (const char *text : uses) {
        Fixture g = fixture(text);
        plan = plan_ok(g, "{\"application\": \"a\"}");
        assert_str_eq(plan.secret, "GENERATED");
        assert_str_eq(resp_str(plan, "secret"), "GENERATED");
    }
    // "$$secret" is a literal "$secret", not a use.
    Fixture h = fixture(R"({"configuration": {"sessionURL": "ws://h/$id"}, "resources":
        [{"host": "h", "port_range": [1, 2]}], "apps": {"a": {"cmd": ["p", "$$secret"]}}})");
    plan = plan_ok(h, "{\"application\": \"a\"}");
    assert_str_eq(plan.secret, "");
    assert_null(json_object_get(plan.response.get(), "secret"));
}

void unknown_variables_kept_as_written(void **) {
    // The ParaViewWeb API substitutes like Python's safe_substitute: an
    // unknown name stays as written, everywhere, and is reported once.
    const char *const text = R"({"configuration": {"sessionURL": "ws://h/$id?f=${fileToLoad}"},
        "resources": [{"host": "h", "port_range": [1, 2]}],
        "sessionData": {"x": "$other"},
        "apps": {"a": {"cmd": ["p", "--load", "${fileToLoad}", "$other"],
                       "env": {"E": "$other/$id"}, "dir": "/d/$fileToLoad"}}})";
    Fixture f = fixture(text);
    LaunchPlan plan = plan_ok(f, "{\"application\": \"a\"}");
    assert_str_eq(arg_after(plan, "--load"), "${fileToLoad}");
    assert_str_eq(plan.argv.back(), "$other");
    assert_str_eq(plan.env[0].second, "$other/ID123");
    assert_str_eq(plan.dir, "/d/$fileToLoad");
    assert_str_eq(resp_str(plan, "sessionURL"), "ws://h/ID123?f=${fileToLoad}");
    assert_str_eq(resp_str(plan, "x"), "$other");
    assert_int_equal(plan.unresolved.size(), 2);
    assert_str_eq(plan.unresolved[0], "fileToLoad");
    assert_str_eq(plan.unresolved[1], "other");
    // Given, they are substituted and nothing is reported.
    plan = plan_ok(f, "{\"application\": \"a\", \"fileToLoad\": \"x.vtk\", \"other\": 1}");
    assert_str_eq(arg_after(plan, "--load"), "x.vtk");
    assert_true(plan.unresolved.empty());
    // The form interface still refuses them.
    assert_contains(plan_400(f, "{\"application\": \"a\"}"), "fileToLoad");
}

void apps_start_in_the_config_directory(void **) {
    Fixture f = fixture();
    f.cfg.dir = "/etc/launcher";
    LaunchPlan plan = plan_ok(f, "{\"application\": \"vis\"}");
    assert_str_eq(plan.dir, "/etc/launcher");
    // An app's own dir wins.
    plan = plan_ok(f, "{\"application\": \"files\", \"file\": \"a.vtk\", \"name\": \"x\", "
                      "\"count\": 1, \"ratio\": 2, \"on\": 3}");
    assert_str_eq(plan.dir, "/work/ID123");
}

void real_numbers_substitute_in_shortest_form(void **) {
    Fixture f = fixture();
    LaunchPlan plan =
        plan_ok(f, "{\"application\": \"files\", \"file\": \"a.vtk\", \"name\": \"x\", "
                   "\"count\": 3, \"ratio\": 0.1, \"on\": true}");
    assert_str_eq(arg_after(plan, "--ratio"), "0.1");
    assert_str_eq(arg_after(plan, "--count"), "3");
}

void scalar_body_is_not_an_object(void **) {
    LaunchError err;
    JsonPtr p = parse_payload("42", 2, &err);
    assert_null(p.get());
    assert_int_equal(err.status, 400);
    assert_contains(err.message, "JSON object");
}

void unresolved_variable_is_400(void **) {
    Fixture f = fixture();
    std::string msg = plan_400(f, "{\"application\": \"needs\"}");
    assert_contains(msg, "missing_thing");
    // The payload can provide it.
    LaunchPlan plan = plan_ok(f, "{\"application\": \"needs\", \"missing_thing\": \"here\"}");
    assert_str_eq(arg_after(plan, "--x"), "here");
    // A non-scalar does not count as providing it.
    msg = plan_400(f, "{\"application\": \"needs\", \"missing_thing\": {\"a\": 1}}");
    assert_contains(msg, "missing_thing");
    msg = plan_400(f, "{\"application\": \"needs\", \"missing_thing\": null}");
    assert_contains(msg, "missing_thing");
    // A payload key used by the app but absent is named as well.
    msg = plan_400(f, "{\"application\": \"files\", \"file\": \"a.vtk\", \"name\": \"bob\"}");
    assert_contains(msg, "count");
}

void sanitize_in_list(void **) {
    Fixture f = fixture();
    const char *rest = ", \"name\": \"bob\", \"count\": 1, \"ratio\": 1, \"on\": 1}";
    LaunchPlan plan =
        plan_ok(f, std::string("{\"application\": \"files\", \"file\": \"b.vtk\"") + rest);
    assert_str_eq(arg_after(plan, "--data"), "b.vtk");
    // Not in the list: the default.
    plan = plan_ok(f, std::string("{\"application\": \"files\", \"file\": \"/etc/passwd\"") + rest);
    assert_str_eq(arg_after(plan, "--data"), "a.vtk");
    plan = plan_ok(f, std::string("{\"application\": \"files\", \"file\": \"b.vtk \"") + rest);
    assert_str_eq(arg_after(plan, "--data"), "a.vtk");
    // A non-scalar becomes the default too.
    plan = plan_ok(f, std::string("{\"application\": \"files\", \"file\": [\"b.vtk\"]") + rest);
    assert_str_eq(arg_after(plan, "--data"), "a.vtk");
    // Without a default: 400 naming the key.
    plan = plan_ok(f, "{\"application\": \"modeapp\", \"mode\": \"slow\"}");
    assert_str_eq(plan.argv[1], "slow");
    std::string msg = plan_400(f, "{\"application\": \"modeapp\", \"mode\": \"turbo\"}");
    assert_contains(msg, "mode");
}

void sanitize_regexp_is_anchored(void **) {
    Fixture f = fixture();
    LaunchPlan plan = plan_ok(f, "{\"application\": \"strictapp\", \"strict\": \"abc\"}");
    assert_str_eq(plan.argv[1], "abc");
    const char *rejected[] = {"abc1", "1abc", "ab c", "ABC", "", "abc\\n", "a;rm -rf"};
    for (const char *v : rejected) {
        std::string msg =
            plan_400(f, std::string("{\"application\": \"strictapp\", \"strict\": \"") + v + "\"}");
        assert_contains(msg, "strict");
    }
    // With a default the value is replaced.
    const char *rest = ", \"file\": \"a.vtk\", \"count\": 1, \"ratio\": 1, \"on\": 1}";
    plan = plan_ok(f, std::string("{\"application\": \"files\", \"name\": \"abc1\"") + rest);
    assert_str_eq(arg_after(plan, "--name"), "anon");
    plan = plan_ok(f, std::string("{\"application\": \"files\", \"name\": \"x\"") + rest);
    assert_str_eq(arg_after(plan, "--name"), "x");
}

void sanitize_value_direct(void **) {
    Fixture f = fixture();
    LaunchError err;
    std::string v = "abc1";
    assert_false(sanitize_value(f.cfg.sanitize.at("strict"), "strict", &v, &err));
    assert_int_equal(err.status, 400);
    assert_contains(err.message, "strict");
    v = "zzz";
    assert_true(sanitize_value(f.cfg.sanitize.at("strict"), "strict", &v, &err));
    assert_str_eq(v, "zzz");
    v = "abc1";
    assert_true(sanitize_value(f.cfg.sanitize.at("name"), "name", &v, &err));
    assert_str_eq(v, "anon");
    // Long values are matched like short ones (the matcher is linear).
    v = std::string(100000, 'a');
    assert_true(sanitize_value(f.cfg.sanitize.at("name"), "name", &v, &err));
    assert_str_eq(v, std::string(100000, 'a'));
    v = std::string(100000, 'a') + "1";
    assert_true(sanitize_value(f.cfg.sanitize.at("name"), "name", &v, &err));
    assert_str_eq(v, "anon");
    v = "b.vtk";
    assert_true(sanitize_value(f.cfg.sanitize.at("file"), "file", &v, &err));
    assert_str_eq(v, "b.vtk");
}

void response_contents(void **) {
    Fixture f = fixture();
    LaunchPlan plan =
        plan_ok(f, "{\"application\": \"files\", \"file\": \"nope.vtk\", \"name\": \"Bob!\","
                   " \"count\": 3, \"ratio\": 1.5, \"on\": false,"
                   " \"extra\": {\"nested\": [1, 2]}}");
    json_t *r = plan.response.get();
    assert_non_null(r);
    assert_true(json_is_object(r));
    // Payload keys are echoed (sanitized ones sanitized, others as sent).
    assert_str_eq(resp_str(plan, "application"), "files");
    assert_str_eq(resp_str(plan, "file"), "a.vtk");
    assert_str_eq(resp_str(plan, "name"), "anon");
    assert_int_equal(json_integer_value(json_object_get(r, "count")), 3);
    assert_true(json_is_real(json_object_get(r, "ratio")));
    assert_true(json_is_false(json_object_get(r, "on")));
    assert_str_eq(json_to_string(json_object_get(r, "extra")), "{\"nested\":[1,2]}");
    // Server values.
    assert_str_eq(resp_str(plan, "id"), "ID123");
    // "files" takes no ${secret}: none is answered.
    assert_null(json_object_get(r, "secret"));
    assert_str_eq(resp_str(plan, "sessionURL"), "ws://localhost:9004/ws?sessionId=ID123&app=files");
    // sessionData, substituted (with the sanitized name).
    assert_str_eq(resp_str(plan, "user"), "anon");
    assert_str_eq(resp_str(plan, "where"), "localhost:9004");
    assert_int_equal(json_integer_value(json_object_get(r, "const")), 5);
    assert_true(json_is_true(json_object_get(r, "flag")));
    // fields lists "host" only.
    assert_str_eq(resp_str(plan, "host"), "localhost");
    assert_null(json_object_get(r, "port"));
    // Nothing else.
    assert_int_equal(json_object_size(r), 14);
}

void response_host_port_only_when_listed(void **) {
    const std::string base = R"JSON({
      "configuration": {"sessionURL": "ws://proxy/ws?id=$id" FIELDS},
      "resources": [{"host": "node7", "port_range": [9000, 9010]}],
      "apps": {"a": {"cmd": ["prog", "$port"]}}
    })JSON";
    const struct {
        const char *fields;
        bool host, port;
    } cases[] = {
        {"", false, false},
        {", \"fields\": []", false, false},
        {", \"fields\": [\"port\"]", false, true},
        {", \"fields\": [\"host\", \"port\", \"other\"]", true, true},
    };
    for (const auto &c : cases) {
        std::string text = base;
        text.replace(text.find("FIELDS"), 6, c.fields);
        Fixture f = fixture(text);
        f.vars.host = "node7";
        LaunchPlan plan = plan_ok(f, "{\"application\": \"a\"}");
        json_t *r = plan.response.get();
        json_t *host = json_object_get(r, "host");
        json_t *port = json_object_get(r, "port");
        if ((host != nullptr) != c.host || (port != nullptr) != c.port)
            fail_msg("fields%s gave %s", c.fields, json_to_string(r).c_str());
        if (c.host)
            assert_str_eq(json_string_value(host), "node7");
        if (c.port) {
            assert_true(json_is_integer(port));
            assert_int_equal(json_integer_value(port), 9004);
        }
        assert_null(json_object_get(r, "other"));
        assert_str_eq(plan.argv[1], "9004");
    }
}

void ready_lines_from_app_or_launcher(void **) {
    Fixture f = fixture();
    LaunchPlan plan = plan_ok(f, "{\"application\": \"vis\"}");
    assert_int_equal(plan.ready_lines.size(), 2);
    assert_str_eq(plan.ready_lines[0], "Starting factory");
    assert_str_eq(plan.ready_lines[1], "wslink: Starting");
    plan = plan_ok(f, "{\"application\": \"strictapp\", \"strict\": \"ok\"}");
    assert_int_equal(plan.ready_lines.size(), 1);
    assert_str_eq(plan.ready_lines[0], "launcher-wide ready");

    // Neither: empty (ready once spawned).
    const char *none = R"JSON({"proxy_url": "ws://p/$id",
        "resources": [{"host": "h", "port": [1, 2]}], "applications": {"a": {"cmd": ["x"]}}})JSON";
    Fixture g = fixture(none);
    plan = plan_ok(g, "{\"application\": \"a\"}");
    assert_true(plan.ready_lines.empty());
    assert_str_eq(resp_str(plan, "sessionURL"), "ws://p/ID123");
}

} // namespace

int run_launch_plan_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_payload_accepts_objects),
        cmocka_unit_test(parse_payload_rejects_non_json),
        cmocka_unit_test(parse_payload_rejects_non_objects),
        cmocka_unit_test(check_payload_application),
        cmocka_unit_test(argv_from_server_vars_and_properties),
        cmocka_unit_test(argv_from_payload),
        cmocka_unit_test(payload_values_are_not_re_expanded),
        cmocka_unit_test(payload_cannot_override_server_or_properties),
        cmocka_unit_test(application_var_is_the_server_one),
        cmocka_unit_test(user_var_is_apaches_never_the_payloads),
        cmocka_unit_test(client_secret_replaces_generated),
        cmocka_unit_test(client_secret_goes_through_sanitize),
        cmocka_unit_test(secret_only_for_apps_that_take_one),
        cmocka_unit_test(unknown_variables_kept_as_written),
        cmocka_unit_test(apps_start_in_the_config_directory),
        cmocka_unit_test(real_numbers_substitute_in_shortest_form),
        cmocka_unit_test(scalar_body_is_not_an_object),
        cmocka_unit_test(unresolved_variable_is_400),
        cmocka_unit_test(sanitize_in_list),
        cmocka_unit_test(sanitize_regexp_is_anchored),
        cmocka_unit_test(sanitize_value_direct),
        cmocka_unit_test(response_contents),
        cmocka_unit_test(response_host_port_only_when_listed),
        cmocka_unit_test(ready_lines_from_app_or_launcher),
    };
    return cmocka_run_group_tests_name("launch_plan", tests, nullptr, nullptr);
}
