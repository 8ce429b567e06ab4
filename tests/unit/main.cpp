// Runs every unit test group; the exit status is the number of failures.
#include "unit.h"

int main(void) {
    int failures = 0;
    failures += run_ids_tests();
    failures += run_settings_tests();
    failures += run_text_tests();
    failures += run_protocol_tests();
    failures += run_template_tests();
    failures += run_regex_tests();
    failures += run_port_pool_tests();
    failures += run_session_table_tests();
    failures += run_shared_table_tests();
    failures += run_state_journal_tests();
    failures += run_launch_queue_tests();
    failures += run_metrics_tests();
    failures += run_netstat_tests();
    failures += run_config_tests();
    failures += run_launch_plan_tests();
    failures += run_launch_format_tests();
    failures += run_session_machine_tests();
    failures += run_url_tests();
    failures += run_slurm_tests();
    return failures > 255 ? 255 : failures;
}
