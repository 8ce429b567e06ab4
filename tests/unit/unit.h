// Shared declarations for the CMocka unit tests of src/core. Each test file
// exposes one run_*_tests() function; main.cpp runs them all.
// Include it after every other header: cmocka.h defines macros such as
// fail() that clash with names in the C++ standard library.
#pragma once
#include <string>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
// cmocka 1.1.5's header has no extern "C" guard of its own.
extern "C" {
#include <cmocka.h>
}

int run_config_tests(void);
int run_template_tests(void);
int run_regex_tests(void);
int run_launch_plan_tests(void);
int run_port_pool_tests(void);
int run_session_table_tests(void);
int run_ids_tests(void);
int run_settings_tests(void);
int run_text_tests(void);
int run_protocol_tests(void);
int run_shared_table_tests(void);
int run_state_journal_tests(void);
int run_launch_queue_tests(void);
int run_metrics_tests(void);
int run_netstat_tests(void);
int run_launch_format_tests(void);
int run_session_machine_tests(void);
int run_url_tests(void);
int run_slurm_tests(void);

// Fails the current test unless `needle` occurs in `hay`, printing both.
#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        const std::string hay_ = (hay);                                                            \
        const std::string needle_ = (needle);                                                      \
        if (hay_.find(needle_) == std::string::npos)                                               \
            fail_msg("expected \"%s\" to contain \"%s\"", hay_.c_str(), needle_.c_str());          \
    } while (0)

// Fails the current test if `needle` occurs in `hay`.
#define assert_not_contains(hay, needle)                                                           \
    do {                                                                                           \
        const std::string hay_ = (hay);                                                            \
        const std::string needle_ = (needle);                                                      \
        if (hay_.find(needle_) != std::string::npos)                                               \
            fail_msg("expected \"%s\" not to contain \"%s\"", hay_.c_str(), needle_.c_str());      \
    } while (0)

// std::string comparison with both values in the failure message.
#define assert_str_eq(a, b)                                                                        \
    do {                                                                                           \
        const std::string a_ = (a);                                                                \
        const std::string b_ = (b);                                                                \
        assert_string_equal(a_.c_str(), b_.c_str());                                               \
    } while (0)
