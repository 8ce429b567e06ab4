// Slurm's side of a launch as text: src/core/slurm.h.
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

} // namespace

int run_slurm_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(words_for_sh_mean_exactly_their_text),
        cmocka_unit_test(the_script_reserves_a_port_and_prints_the_route_first),
        cmocka_unit_test(route_lines),
        cmocka_unit_test(squeue_says_where_and_how),
    };
    return cmocka_run_group_tests_name("slurm", tests, nullptr, nullptr);
}
