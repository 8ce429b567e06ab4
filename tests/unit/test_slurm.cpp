// Slurm's side of a launch as text: src/core/slurm.h.
#include "core/launch_plan.h"
#include "core/slurm.h"

#include <string>

// Last: cmocka defines fail() and friends, which clash with <ios>.
#include "unit.h"

using namespace pvl;

namespace {

void words_for_sh_mean_exactly_their_text(void **) {
    assert_str_eq(sh_quote("plain"), "'plain'");
    assert_str_eq(sh_quote(""), "''");
    assert_str_eq(sh_quote("it's $HOME `x` \"q\" \\"), "'it'\\''s $HOME `x` \"q\" \\'");
    const std::string port = slurm_port_marker, host = slurm_host_marker;
    assert_str_eq(sh_word_with_markers("--port=" + port), "'--port='\"$port\"");
    assert_str_eq(sh_word_with_markers(host + ":" + port), "\"$host\"':'\"$port\"");
    assert_str_eq(sh_word_with_markers(port), "\"$port\"");
    assert_str_eq(sh_word_with_markers(""), "''");
    // A lone separator character is only text.
    assert_str_eq(sh_word_with_markers("\x1d$port"), "'\x1d$port'");
}

void the_script_reserves_a_port_and_prints_the_route_first(void **) {
    SlurmScript s;
    s.argv = {"/opt/pv/bin/pvpython", "app.py", "--port", slurm_port_marker, "--host",
              slurm_host_marker,      "--name", "a'b c"};
    s.dir = "/srv/data dir";
    s.env = {{"DISPLAY", ":0"}, {"PV_PORT", slurm_port_marker}};
    std::string out, error;
    assert_true(slurm_batch_script(s, &out, &error));
    assert_contains(out, "#!/bin/sh\n");
    assert_contains(out, "exec srun --resv-ports=1 --ntasks=1 ");
    // The inner script, once sh has read the outer quotes.
    assert_contains(out, "port=${SLURM_STEP_RESV_PORTS%%-*}");
    assert_contains(out, "echo \"pvlaunch-route $host $port\"");
    assert_contains(out, "export PV_PORT=\"$port\"");
    assert_contains(out, "cd '\\''/srv/data dir'\\'' || exit 126");
    // The route is printed before the app runs.
    assert_true(out.find("pvlaunch-route") < out.find("exec '\\''/opt/pv/bin/pvpython"));
    SlurmScript bad = s;
    bad.argv.push_back(std::string("a\0b", 3));
    assert_false(slurm_batch_script(bad, &out, &error));
    assert_contains(error, "NUL");
    bad = s;
    bad.env.push_back({"BAD-NAME", "x"});
    assert_false(slurm_batch_script(bad, &out, &error));
    assert_contains(error, "BAD-NAME");
    assert_false(slurm_batch_script(SlurmScript(), &out, &error));
}

void route_lines(void **) {
    std::string host;
    int port = 0;
    assert_true(parse_slurm_route("pvlaunch-route node07.cluster 40123", &host, &port));
    assert_str_eq(host, "node07.cluster");
    assert_int_equal(port, 40123);
    assert_false(parse_slurm_route("pvlaunch-route node07 0", &host, &port));
    assert_false(parse_slurm_route("pvlaunch-route node07 65536", &host, &port));
    assert_false(parse_slurm_route("pvlaunch-route node07 12a", &host, &port));
    assert_false(parse_slurm_route("pvlaunch-route node/07 1", &host, &port));
    assert_false(parse_slurm_route("pvlaunch-route  1", &host, &port));
    assert_false(parse_slurm_route("Starting factory", &host, &port));
    assert_false(parse_slurm_route("pvlaunch-route node07", &host, &port));
}

void squeue_says_where_and_how(void **) {
    const std::string text = "101|PENDING||Priority\n"
                             "102|RUNNING|node07|None\n"
                             "103|COMPLETING|node07|NonZeroExitCode\n"
                             "104_3|CANCELLED|node08|a|b\n"
                             "garbage line\n"
                             "x1|RUNNING|n|None\n"
                             "105|CONFIGURING|node09|None";
    auto jobs = parse_squeue(text);
    assert_int_equal(jobs.size(), 5);
    assert_true(jobs["101"].state == SlurmJobState::pending);
    assert_str_eq(jobs["101"].reason, "Priority");
    assert_true(jobs["102"].state == SlurmJobState::running);
    assert_str_eq(jobs["102"].nodes, "node07");
    assert_true(jobs["103"].state == SlurmJobState::running);
    assert_true(jobs["104_3"].state == SlurmJobState::ended);
    assert_str_eq(jobs["104_3"].reason, "a|b");
    assert_true(jobs["105"].state == SlurmJobState::pending);
    for (const char *s : {"COMPLETED", "FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
                          "PREEMPTED", "BOOT_FAIL", "DEADLINE", "SOMETHING_NEW"})
        assert_true(slurm_job_state(s) == SlurmJobState::ended);
    assert_int_equal(parse_squeue("").size(), 0);
}

// A Slurm app's plan: ${host} and ${port} as markers everywhere, the sbatch
// options rendered, and the answer filled in once the job is placed.
void plans_carry_markers_until_the_job_is_placed(void **) {
    LauncherConfig cfg;
    std::string error;
    const std::string text =
        R"({"configuration": {"sessionURL": "wss://site/proxy?sessionId=${id}&p=${port}",
            "fields": ["host", "port"]},
           "sessionData": {"node": "${host}", "nested": ["${host}:${port}"]},
           "apps": {"viz": {"cmd": ["pvpython", "--port", "${port}", "--host", "${host}"],
                            "slurm": {"options": ["--job-name-x=${application}", "--comment=${user}"]}},
                    "bad": {"cmd": ["x"], "slurm": {"options": ["--comment=${port}"]}}}})";
    assert_true(parse_launcher_config(text, "l.json", &cfg, &error));
    ServerVars vars;
    vars.id = "abc";
    vars.secret = "s";
    vars.application = "viz";
    vars.user = "alice";
    vars.slurm = true;
    LaunchPlan plan;
    LaunchError err;
    JsonPtr payload(json_pack("{s:s}", "application", "viz"));
    assert_true(plan_launch(cfg, payload.get(), vars, &plan, &err));
    assert_str_eq(plan.argv[2], slurm_port_marker);
    assert_str_eq(plan.argv[4], slurm_host_marker);
    assert_int_equal(plan.slurm_options.size(), 2);
    assert_str_eq(plan.slurm_options[0], "--job-name-x=viz");
    assert_str_eq(plan.slurm_options[1], "--comment=alice");
    const std::string response = json_to_string(plan.response.get());
    const std::string filled = fill_route(response, "node7", 12001);
    JsonPtr j(json_loads(filled.c_str(), 0, nullptr));
    assert_non_null(j.get());
    assert_str_eq(json_string_value(json_object_get(j.get(), "host")), "node7");
    assert_int_equal(json_integer_value(json_object_get(j.get(), "port")), 12001);
    assert_str_eq(json_string_value(json_object_get(j.get(), "sessionURL")),
                  "wss://site/proxy?sessionId=abc&p=12001");
    assert_str_eq(json_string_value(json_object_get(j.get(), "node")), "node7");
    // Only string values of sessionData are templates (as in wslink).
    assert_str_eq(json_string_value(json_array_get(json_object_get(j.get(), "nested"), 0)),
                  "${host}:${port}");
    assert_true(filled.find("\\u001d") == std::string::npos);
    assert_str_eq(fill_route("[1]", "n", 1), "");
    // ${host} or ${port} in sbatch options: known only once the job runs.
    vars.application = "bad";
    JsonPtr bad(json_pack("{s:s}", "application", "bad"));
    assert_false(plan_launch(cfg, bad.get(), vars, &plan, &err));
    assert_contains(err.message, "known only once the job runs");
    // A request value holding the separator is refused for a Slurm app.
    vars.application = "viz";
    JsonPtr sneaky(json_pack("{s:s, s:s}", "application", "viz", "x", "a\x1dPVL-PORT\x1d"));
    assert_false(plan_launch(cfg, sneaky.get(), vars, &plan, &err));
    assert_int_equal(err.status, 400);
}

} // namespace

int run_slurm_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(words_for_sh_mean_exactly_their_text),
        cmocka_unit_test(the_script_reserves_a_port_and_prints_the_route_first),
        cmocka_unit_test(route_lines),
        cmocka_unit_test(squeue_says_where_and_how),
        cmocka_unit_test(plans_carry_markers_until_the_job_is_placed),
    };
    return cmocka_run_group_tests_name("slurm", tests, nullptr, nullptr);
}
