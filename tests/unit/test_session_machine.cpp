// The session and launch state machine (src/core/session_machine.h), driven
// through whole lifecycles by scripted events: no sockets, no processes, no
// sleeps. Each step's effects are compared, in order, as text.
#include "core/log.h"
#include "core/session_machine.h"

#include <string>
#include <vector>

// Last: cmocka defines fail() and friends, which clash with <ios>.
#include "unit.h"

using namespace pvl;

namespace {

const Instant t0 = Instant() + std::chrono::hours(1);

Instant at(double seconds) {
    return t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double>(seconds));
}

std::string sid(char c) {
    return std::string(32, c);
}

std::string short_id(const std::string &id) {
    return id.empty() ? "-" : id.substr(0, 1);
}

const char *body_name(Effect::Body b) {
    switch (b) {
    case Effect::Body::error:
        return "error";
    case Effect::Body::error_with_log:
        return "error+log";
    case Effect::Body::text:
        return "text";
    case Effect::Body::launch:
        return "launch";
    case Effect::Body::canceled:
        return "canceled";
    }
    return "?";
}

std::string describe(const Effect &e) {
    const std::string id = short_id(e.id);
    switch (e.kind) {
    case Effect::Kind::spawn:
        return "spawn " + id + " " + std::to_string(e.launcher);
    case Effect::Kind::signal:
        return "signal " + id + " " + std::to_string(e.number);
    case Effect::Kind::kill_now:
        return "kill_now " + id + " pid " + std::to_string(e.session.pid);
    case Effect::Kind::unwatch:
        return "unwatch " + id;
    case Effect::Kind::reply:
        return "reply " + std::to_string(e.to) + " " + std::to_string(e.number) + " " +
               body_name(e.body) + (e.text.empty() ? "" : " " + e.text);
    case Effect::Kind::persist:
        return "persist " + id + (e.session.state == SessionState::starting ? " starting" : "");
    case Effect::Kind::publish:
        return "publish " + id + " " + e.session.host_port();
    case Effect::Kind::unpublish:
        return "unpublish " + id;
    case Effect::Kind::forget:
        return "forget " + id + " " + e.session.host_port() + (e.was_ready ? " was ready" : "");
    case Effect::Kind::emit:
        switch (e.event) {
        case Effect::Event::started:
            return "emit started " + id;
        case Effect::Event::ready:
            return "emit ready " + id + (e.text.empty() ? "" : " " + e.text);
        case Effect::Event::queued:
            return "emit queued " + id + " at " + std::to_string(e.position);
        case Effect::Event::positions:
            return "emit positions " + std::to_string(e.launcher);
        }
        return "emit ?";
    case Effect::Kind::finish:
        return "finish " + id + " " + launch_state_name(e.end) + " " + e.log_kind + ": " + e.text;
    case Effect::Kind::discard:
        return "discard " + id;
    case Effect::Kind::adopted:
        return "adopted " + id + " " + e.session.host_port();
    }
    return "?";
}

std::string lines(const std::vector<Effect> &effects) {
    std::string out;
    for (const Effect &e : effects)
        out += describe(e) + "\n";
    return out;
}

std::vector<std::string> logged;
void capture(LogLevel, const char *msgno, const std::string &text) {
    logged.push_back(std::string(msgno) + " " + text);
}
std::string all_logged() {
    std::string out;
    for (const auto &l : logged)
        out += l + "\n";
    return out;
}

Session make(const std::string &id, int port, int pid) {
    Session s;
    s.id = id;
    s.application = "viz";
    s.host = "localhost";
    s.port = port;
    s.pid = pid;
    s.start_time = 4242;
    s.response = "{\"id\":\"" + short_id(id) + "\"}";
    return s;
}

MachineSettings settings(int max_session = 0, size_t queue_length = 0, double queue_wait = 60) {
    MachineSettings m;
    MachineLauncher l;
    l.max_session = max_session;
    l.ready_timeout = 25;
    l.queue_length = queue_length;
    l.queue_wait = queue_wait;
    m.launchers.push_back(l);
    m.stop_grace = 5;
    return m;
}

// Drives one machine; each step returns its effects as text.
struct Driver {
    explicit Driver(MachineSettings s) : m(std::move(s)) {
        logged.clear();
        log_set_sink(capture);
    }
    ~Driver() { log_set_sink(nullptr); }
    std::string create(double t, char id, ReplyTo to, bool tracked = false) {
        return step([&](std::vector<Effect> *o) { m.create(at(t), sid(id), 0, to, tracked, o); });
    }
    std::string spawned(double t, char id, int port, int pid, bool line = true) {
        return step(
            [&](std::vector<Effect> *o) { m.spawned(at(t), make(sid(id), port, pid), line, o); });
    }
    std::string ready(double t, char id, const std::string &line = "Starting factory") {
        return step([&](std::vector<Effect> *o) { m.ready(at(t), sid(id), line, o); });
    }
    std::string exited(double t, char id, bool clean = true, bool known = true) {
        return step([&](std::vector<Effect> *o) {
            m.exited(at(t), sid(id), known, clean, clean ? "exit status 0" : "exit status 3", o);
        });
    }
    std::string stop(double t, char id, ReplyTo to, bool *found = nullptr) {
        return step([&](std::vector<Effect> *o) {
            bool f = m.stop(at(t), sid(id), 0, to, o);
            if (found)
                *found = f;
        });
    }
    std::string tick(double t) {
        return step([&](std::vector<Effect> *o) { m.tick(at(t), nullptr, o); });
    }
    std::string tick_busy(double t, std::set<int> busy) {
        return step([&](std::vector<Effect> *o) { m.tick(at(t), &busy, o); });
    }
    std::string gone(double t, ReplyTo to) {
        return step([&](std::vector<Effect> *o) { m.gone(at(t), to, o); });
    }
    template <class F> std::string step(F f) {
        std::vector<Effect> out;
        f(&out);
        return lines(out);
    }
    // Launch `id` for `to`, started on `port` and ready: the usual path.
    void running(double t, char id, ReplyTo to, int port, int pid) {
        create(t, id, to);
        spawned(t, id, port, pid);
        ready(t, id);
    }
    SessionMachine m;
};

void launch_ready_exit(void **) {
    Driver d(settings());
    assert_str_eq(d.create(0, 'a', 7), "spawn a 0\n");
    assert_true(d.m.tracked(sid('a')) == false);
    assert_str_eq(d.spawned(0.1, 'a', 9000, 100), "emit started a\n"
                                                  "persist a starting\n");
    const Session *s = d.m.table().find(sid('a'));
    assert_non_null(s);
    assert_true(s->state == SessionState::starting);
    assert_str_eq(d.m.table().route(sid('a')), "");
    assert_str_eq(d.ready(1.1, 'a'), "unwatch a\n"
                                     "emit ready a Starting factory\n"
                                     "publish a localhost:9000\n"
                                     "reply 7 200 text {\"id\":\"a\"}\n");
    assert_str_eq(d.m.table().route(sid('a')), "localhost:9000");
    assert_contains(all_logged(),
                    "PVL00010 session " + sid('a') + " (viz) ready on localhost:9000");
    // Ready twice, or for an unknown id: nothing.
    assert_str_eq(d.ready(1.2, 'a'), "");
    assert_str_eq(d.ready(1.2, 'z'), "");
    assert_str_eq(d.exited(50, 'a'),
                  "unwatch a\n"
                  "forget a localhost:9000 was ready\n"
                  "finish a completed progress: application ended by itself (exit status 0)\n");
    assert_null(d.m.table().find(sid('a')));
    assert_str_eq(d.exited(51, 'a'), "");
    const auto &st = d.m.stats();
    assert_int_equal(st.started, 1);
    assert_int_equal(st.outcomes.at("completed"), 1);
    assert_int_equal(st.launch_duration.count(), 1);
    assert_int_equal(st.queue_wait.count(), 1);
}

void ready_session_fails(void **) {
    Driver d(settings());
    d.running(0, 'a', 1, 9000, 100);
    assert_str_eq(d.exited(5, 'a', false),
                  "unwatch a\n"
                  "forget a localhost:9000 was ready\n"
                  "finish a failed error: application ended by itself (exit status 3)\n");
    // An adopted app's status is unknown: that is no failure.
    d.running(6, 'b', 2, 9001, 101);
    assert_str_eq(d.exited(7, 'b', false, false),
                  "unwatch b\n"
                  "forget b localhost:9001 was ready\n"
                  "finish b completed progress: application ended by itself (exit status 3)\n");
}

void exit_before_ready(void **) {
    Driver d(settings());
    d.create(0, 'a', 3);
    d.spawned(0, 'a', 9000, 100);
    assert_str_eq(d.exited(2, 'a', false),
                  "unwatch a\n"
                  "forget a localhost:9000\n"
                  "finish a failed error: application viz exited before it was ready (exit "
                  "status 3)\n"
                  "reply 3 502 error+log application viz exited before it was ready (exit "
                  "status 3)\n");
    assert_contains(all_logged(), "PVL00021");
    assert_int_equal(d.m.stats().outcomes.at("failed"), 1);
}

void launch_timeout(void **) {
    Driver d(settings());
    d.create(0, 'a', 4);
    d.spawned(0, 'a', 9000, 100);
    assert_false(d.m.ready_overdue(sid('a'), at(24.9)));
    assert_true(d.m.next_deadline(at(1)) == at(25));
    assert_str_eq(d.tick(24.9), "");
    assert_true(d.m.ready_overdue(sid('a'), at(25)));
    assert_str_eq(d.tick(25), "reply 4 503 error+log application viz did not print its ready "
                              "line within the timeout of 25 s\n"
                              "unwatch a\n"
                              "signal a 15\n");
    assert_true(d.m.table().find(sid('a'))->state == SessionState::stopping);
    assert_true(d.m.next_deadline(at(26)) == at(30));
    assert_str_eq(d.tick(29.9), "");
    assert_str_eq(d.tick(30), "signal a 9\n");
    assert_str_eq(d.tick(40), ""); // SIGKILL once
    assert_str_eq(d.exited(40.1, 'a', false),
                  "unwatch a\n"
                  "forget a localhost:9000\n"
                  "finish a failed error: not ready within the timeout of 25 s\n");
    assert_contains(all_logged(), "PVL00022");
    assert_contains(all_logged(), "PVL00023");
}

void probe_timeout_names_the_port(void **) {
    Driver d(settings());
    d.create(0, 'a', 4);
    d.spawned(0, 'a', 9000, 100, false);
    assert_str_eq(d.tick(25), "reply 4 503 error+log application viz did not accept connections "
                              "on localhost:9000 within the timeout of 25 s\n"
                              "unwatch a\n"
                              "signal a 15\n");
}

void queue_starts_on_freed_slot(void **) {
    Driver d(settings(1, 2, 60));
    d.running(0, 'a', 1, 9000, 100);
    assert_true(d.m.would_queue(0));
    assert_str_eq(d.create(1, 'b', 2), "emit queued b at 1\n");
    assert_str_eq(d.create(2, 'c', 3, true), "emit queued c at 2\n"
                                             "reply 3 202 launch\n");
    assert_true(d.m.waiting(sid('b')));
    assert_true(d.m.tracked(sid('c')));
    assert_int_equal(d.m.waiting_count(), 2);
    assert_int_equal(d.m.queue_position(sid('c'), 0), 2);
    assert_str_eq(d.create(3, 'd', 4), "reply 4 503 error the launch queue is full (2 waiting); "
                                       "try again later\n"
                                       "discard d\n");
    assert_int_equal(d.m.stats().outcomes.at("rejected"), 1);
    // The queue waits for the slot, not for the clock.
    assert_str_eq(d.tick(4), "");
    assert_str_eq(d.exited(10, 'a'),
                  "unwatch a\n"
                  "forget a localhost:9000 was ready\n"
                  "finish a completed progress: application ended by itself (exit status 0)\n"
                  "spawn b 0\n");
    assert_false(d.m.waiting(sid('b')));
    assert_str_eq(d.spawned(10, 'b', 9000, 101), "emit started b\n"
                                                 "persist b starting\n"
                                                 "emit positions 0\n");
    assert_int_equal(d.m.queue_position(sid('c'), 0), 1);
    assert_str_eq(d.ready(11, 'b'), "unwatch b\n"
                                    "emit ready b Starting factory\n"
                                    "publish b localhost:9000\n"
                                    "reply 2 200 text {\"id\":\"b\"}\n");
    assert_int_equal(d.m.stats().queue_wait.count(), 2);
}

void queue_when_ports_run_out(void **) {
    Driver d(settings(0, 1, 60));
    assert_str_eq(d.create(0, 'a', 1), "spawn a 0\n");
    // The daemon found no free port.
    assert_str_eq(d.step([&](std::vector<Effect> *o) { d.m.no_capacity(at(0), sid('a'), o); }),
                  "emit queued a at 1\n");
    assert_true(d.m.next_deadline(at(0)) == at(0) || d.m.next_deadline(at(0)) <= at(1));
    assert_str_eq(d.tick(0.5), "spawn a 0\n");
    assert_str_eq(d.step([&](std::vector<Effect> *o) { d.m.no_capacity(at(0.5), sid('a'), o); }),
                  "");
    assert_true(d.m.waiting(sid('a')));
    assert_str_eq(d.tick(1), ""); // retried once a second
    assert_str_eq(d.tick(1.5), "spawn a 0\n");
    d.step([&](std::vector<Effect> *o) { d.m.no_capacity(at(1.5), sid('a'), o); });
    assert_str_eq(d.tick(60),
                  "emit positions 0\n"
                  "reply 1 503 error no session could be started within the maximum wait of 60 "
                  "s; try again later\n"
                  "finish a failed error: no session could be started within the maximum wait of "
                  "60 s; try again later\n");
    assert_contains(all_logged(), "PVL00024");
    // Without a queue there is nothing to wait in.
    Driver e(settings());
    e.create(0, 'b', 2);
    assert_str_eq(e.step([&](std::vector<Effect> *o) { e.m.no_capacity(at(0), sid('b'), o); }),
                  "reply 2 503 error all resources are taken; try again later\n"
                  "discard b\n");
    Driver f(settings(1));
    f.running(0, 'c', 3, 9000, 100);
    assert_str_eq(f.create(1, 'd', 4), "reply 4 503 error the maximum number of sessions (1) is "
                                       "reached; try again later\n"
                                       "discard d\n");
}

void spawn_failures(void **) {
    Driver d(settings(1, 2, 60));
    assert_str_eq(d.create(0, 'a', 1), "spawn a 0\n");
    assert_str_eq(d.step([&](std::vector<Effect> *o) {
        d.m.spawn_failed(at(0), sid('a'), 502, "application viz could not be started", o);
    }),
                  "reply 1 502 error application viz could not be started\n"
                  "discard a\n");
    // From the queue: the launch ends, and the next one is tried.
    d.running(1, 'b', 2, 9000, 100);
    d.create(2, 'c', 3);
    d.create(2, 'd', 4);
    assert_str_eq(d.exited(3, 'b'),
                  "unwatch b\n"
                  "forget b localhost:9000 was ready\n"
                  "finish b completed progress: application ended by itself (exit status 0)\n"
                  "spawn c 0\n");
    assert_str_eq(d.step([&](std::vector<Effect> *o) {
        d.m.spawn_failed(at(3), sid('c'), 500, "cannot open the session log", o);
    }),
                  "reply 3 500 error cannot open the session log\n"
                  "finish c failed error: cannot open the session log\n"
                  "emit positions 0\n"
                  "spawn d 0\n");
    // Answers for launches the machine does not spawn change nothing.
    assert_str_eq(d.step([&](std::vector<Effect> *o) {
        d.m.spawn_failed(at(3), sid('z'), 500, "x", o);
        d.m.no_capacity(at(3), sid('z'), o);
    }),
                  "");
    assert_str_eq(d.spawned(3, 'z', 9001, 300), "kill_now z pid 300\n");
    assert_int_equal(d.m.stats().outcomes.at("failed"), 2);
}

void delete_while_launching(void **) {
    Driver d(settings());
    // A tracked launch: answered at once, stoppable while it starts.
    assert_str_eq(d.create(0, 'a', 1, true), "spawn a 0\n");
    assert_str_eq(d.spawned(0, 'a', 9000, 100), "emit started a\n"
                                                "persist a starting\n"
                                                "reply 1 202 launch\n");
    bool found = false;
    assert_str_eq(d.stop(1, 'a', 2, &found), "unwatch a\n"
                                             "signal a 15\n");
    assert_true(found);
    // A second DELETE waits with the first; no second signal.
    assert_str_eq(d.stop(2, 'a', 3, &found), "");
    assert_true(found);
    // Its ready line comes too late to matter.
    assert_str_eq(d.ready(3, 'a'), "");
    assert_str_eq(d.exited(4, 'a', false), "unwatch a\n"
                                           "forget a localhost:9000\n"
                                           "finish a canceled progress: stopped on request\n"
                                           "reply 2 200 launch {\"id\":\"a\"}\n"
                                           "reply 3 200 launch {\"id\":\"a\"}\n");
    assert_contains(all_logged(), "PVL00032");
    // A ParaViewWeb launch cannot be stopped before it is ready: nobody
    // knows its id yet.
    d.create(5, 'b', 4);
    d.spawned(5, 'b', 9001, 101);
    assert_str_eq(d.stop(6, 'b', 5, &found), "");
    assert_false(found);
    d.ready(7, 'b');
    assert_str_eq(d.stop(8, 'b', 5, &found), "unwatch b\n"
                                             "signal b 15\n"
                                             "unpublish b\n");
    assert_true(found);
    assert_str_eq(d.m.table().route(sid('b')), "");
    assert_str_eq(d.exited(9, 'b'), "unwatch b\n"
                                    "forget b localhost:9001\n"
                                    "finish b canceled progress: stopped on request\n"
                                    "reply 5 200 text {\"id\":\"b\"}\n");
    // Unknown ids, or another launcher's: not found.
    assert_str_eq(d.stop(9, 'z', 6, &found), "");
    assert_false(found);
}

void delete_a_tracked_launch_that_a_client_waits_for(void **) {
    Driver d(settings(1, 5, 60));
    d.running(0, 'a', 1, 9000, 100);
    d.create(1, 'b', 2); // held ParaViewWeb client
    d.create(1, 'c', 3, true);
    bool found = false;
    assert_str_eq(d.stop(2, 'b', 4, &found), "emit positions 0\n"
                                             "reply 2 503 error the launch was canceled\n"
                                             "finish b canceled warning: the launch was canceled\n"
                                             "reply 4 200 canceled\n");
    assert_true(found);
    assert_str_eq(d.stop(2, 'c', 5, &found), "emit positions 0\n"
                                             "finish c canceled warning: the launch was canceled\n"
                                             "reply 5 200 launch\n");
    assert_contains(all_logged(), "PVL00036");
    assert_int_equal(d.m.waiting_count(), 0);
}

void clients_that_go_away(void **) {
    Driver d(settings(1, 5, 60));
    d.create(0, 'a', 1);
    d.spawned(0, 'a', 9000, 100);
    assert_str_eq(d.gone(1, 1), "unwatch a\n"
                                "signal a 15\n");
    assert_contains(all_logged(), "PVL00031");
    d.create(2, 'b', 2);
    assert_str_eq(d.gone(3, 2), "emit positions 0\n"
                                "finish b canceled warning: the client went away\n");
    assert_contains(all_logged(), "PVL00026");
    // A DELETE that goes away is not answered.
    assert_str_eq(d.exited(4, 'a'), "unwatch a\n"
                                    "forget a localhost:9000\n"
                                    "finish a canceled progress: the client went away before the "
                                    "session was ready\n");
    d.create(5, 'c', 3, true);
    d.spawned(5, 'c', 9000, 102);
    d.ready(5, 'c');
    bool found = false;
    d.stop(6, 'c', 4);
    d.stop(6, 'c', 5, &found);
    assert_true(found);
    assert_str_eq(d.gone(7, 4), "");
    assert_str_eq(d.gone(7, nobody), "");
    assert_str_eq(d.exited(8, 'c'), "unwatch c\n"
                                    "forget c localhost:9000\n"
                                    "finish c canceled progress: stopped on request\n"
                                    "reply 5 200 launch {\"id\":\"c\"}\n");
    // A ParaViewWeb session being stopped is gone for a second DELETE.
    d.running(9, 'e', 6, 9000, 103);
    d.stop(10, 'e', 7);
    assert_str_eq(d.stop(10, 'e', 8, &found), "");
    assert_false(found);
}

Adoption record(char id, const char *state, bool alive, bool port_free = true, int launcher = 0,
                double age = 0) {
    Adoption a;
    a.session = make(sid(id), 9000, 500);
    a.session.launcher = launcher;
    a.state = state;
    a.alive = alive;
    a.port_free = port_free;
    a.age = age;
    return a;
}

void restart_adoption(void **) {
    MachineSettings s = settings();
    s.max_lifetime = 100;
    Driver d(s);
    auto adopt = [&](const Adoption &a) {
        return d.step([&](std::vector<Effect> *o) { d.m.adopt(at(0), a, o); });
    };
    // A dead pid: forgotten.
    assert_str_eq(adopt(record('a', "ready", false)), "");
    // A live ready session: routed again.
    assert_str_eq(adopt(record('b', "ready", true, true, 0, 90)), "adopted b localhost:9000\n");
    assert_str_eq(d.m.table().route(sid('b')), "localhost:9000");
    // Live, but half launched, half stopped, its port gone, its launcher
    // gone, or known already: killed.
    assert_str_eq(adopt(record('c', "starting", true)), "kill_now c pid 500\n");
    assert_str_eq(adopt(record('d', "stopping", true)), "kill_now d pid 500\n");
    assert_str_eq(adopt(record('e', "ready", true, false)), "kill_now e pid 500\n");
    assert_str_eq(adopt(record('f', "ready", true, true, -1)), "kill_now f pid 500\n");
    assert_str_eq(adopt(record('b', "ready", true)), "kill_now b pid 500\n");
    Adoption bad = record('g', "ready", true);
    bad.session.id = "../etc";
    assert_str_eq(adopt(bad), "kill_now . pid 500\n");
    const auto &st = d.m.stats();
    assert_int_equal(st.adopted, 1);
    assert_int_equal(st.adopt_gone, 1);
    assert_int_equal(st.adopt_killed, 6);
    // Its age counts towards the lifetime: 90 s old when adopted.
    assert_true(d.m.next_deadline(at(0)) == at(10));
    assert_str_eq(d.tick(9.9), "");
    assert_str_eq(d.tick(10), "unwatch b\n"
                              "signal b 15\n"
                              "unpublish b\n");
    assert_contains(all_logged(), "reached the maximum lifetime of 100 s");
    // Its exit status is unknown (not our child).
    assert_str_eq(d.exited(11, 'b', false, false),
                  "unwatch b\n"
                  "forget b localhost:9000\n"
                  "finish b completed progress: reached the maximum lifetime of 100 s\n");
}

void idle_limit(void **) {
    MachineSettings s = settings();
    s.idle_timeout = 10;
    Driver d(s);
    d.running(0, 'a', 1, 9000, 100);
    assert_true(d.m.idle_scan_due(at(0)));
    assert_str_eq(d.tick_busy(0, {}), "");
    // Scans every idle_timeout / 4.
    assert_false(d.m.idle_scan_due(at(2)));
    assert_true(d.m.next_deadline(at(1)) == at(2.5));
    assert_true(d.m.idle_scan_due(at(2.5)));
    assert_str_eq(d.tick_busy(8, {9000}), ""); // a client: active now
    assert_str_eq(d.tick_busy(17, {}), "");
    assert_str_eq(d.tick_busy(18, {1234}), "unwatch a\n"
                                           "signal a 15\n"
                                           "unpublish a\n");
    assert_contains(all_logged(), "PVL00025 session " + sid('a') +
                                      " (viz) no client connection for 10 s; stopping it");
    // A stopping session is not stopped again.
    assert_str_eq(d.tick_busy(30, {}), "signal a 9\n");
    assert_str_eq(d.exited(31, 'a'),
                  "unwatch a\n"
                  "forget a localhost:9000\n"
                  "finish a completed progress: no client connection for 10 s\n");
}

void lifetime_limit_while_starting(void **) {
    MachineSettings s = settings();
    s.launchers[0].ready_timeout = 100;
    s.max_lifetime = 30;
    Driver d(s);
    d.create(0, 'a', 1);
    d.spawned(0, 'a', 9000, 100);
    assert_false(d.m.idle_scan_due(at(0))); // no idle limit
    assert_true(d.m.next_deadline(at(1)) == at(30));
    assert_str_eq(d.tick(30), "reply 1 503 error the session reached the maximum lifetime of 30 s "
                              "before it was ready\n"
                              "unwatch a\n"
                              "signal a 15\n");
    // No lifetime deadline for a session already stopping.
    assert_true(d.m.next_deadline(at(31)) == at(35));
}

void shut_down_stops_everything(void **) {
    Driver d(settings(2, 5, 60));
    d.running(0, 'a', 1, 9000, 100);
    d.create(1, 'b', 2);
    d.spawned(1, 'b', 9001, 101);
    d.create(2, 'c', 3);
    assert_str_eq(d.step([&](std::vector<Effect> *o) { d.m.shut_down(at(3), o); }),
                  "emit positions 0\n"
                  "reply 3 503 error the launcher is shutting down\n"
                  "finish c canceled warning: the launcher is shutting down\n"
                  "unwatch a\n"
                  "signal a 15\n"
                  "unpublish a\n"
                  "reply 2 503 error the launcher is shutting down\n"
                  "unwatch b\n"
                  "signal b 15\n");
    assert_true(d.m.shutting_down());
    assert_contains(all_logged(), "PVL00030 stopping 2 session(s)");
    assert_str_eq(d.step([&](std::vector<Effect> *o) { d.m.shut_down(at(3), o); }), "");
    assert_str_eq(d.create(4, 'd', 4), "reply 4 503 error the launcher is shutting down\n"
                                       "discard d\n");
    assert_str_eq(d.exited(5, 'a'), "unwatch a\n"
                                    "forget a localhost:9000\n"
                                    "finish a canceled progress: the launcher stopped\n");
    // Nothing is drained any more.
    assert_str_eq(d.exited(5, 'b'), "unwatch b\n"
                                    "forget b localhost:9001\n"
                                    "finish b canceled progress: the launcher stopped\n");
    assert_int_equal(d.m.table().size(), 0);
}

void hand_over_and_abandon(void **) {
    Driver d(settings(2, 5, 60));
    d.running(0, 'a', 1, 9000, 100);
    d.create(1, 'b', 2);
    d.spawned(1, 'b', 9001, 101);
    d.create(2, 'c', 3);
    assert_str_eq(d.step([&](std::vector<Effect> *o) { d.m.hand_over(at(3), o); }),
                  "reply 2 503 error the launcher is restarting; try again\n"
                  "kill_now b pid 101\n"
                  "unwatch b\n"
                  "forget b localhost:9001\n"
                  "finish b canceled warning: the launcher restarted before the session was "
                  "ready\n"
                  "emit positions 0\n"
                  "reply 3 503 error the launcher is restarting; try again\n"
                  "finish c canceled warning: the launcher is restarting; try again\n");
    // The ready session stays for the next daemon.
    assert_str_eq(d.m.table().route(sid('a')), "localhost:9000");
    assert_str_eq(d.step([&](std::vector<Effect> *o) { d.m.abandon(o); }),
                  "kill_now a pid 100\n"
                  "unwatch a\n"
                  "forget a localhost:9000 was ready\n"
                  "finish a canceled warning: the launcher stopped\n");
    assert_int_equal(d.m.table().size(), 0);
}

void reorder_the_queue(void **) {
    Driver d(settings(1, 5, 60));
    d.running(0, 'a', 1, 9000, 100);
    d.create(1, 'b', 2);
    d.create(1, 'c', 3);
    std::string unknown;
    assert_str_eq(d.step([&](std::vector<Effect> *o) {
        assert_true(d.m.reorder(0, {sid('c')}, LaunchQueue::Direction::top, &unknown, o));
    }),
                  "emit positions 0\n");
    assert_int_equal(d.m.queue_position(sid('c'), 0), 1);
    assert_str_eq(d.step([&](std::vector<Effect> *o) {
        assert_false(d.m.reorder(0, {sid('z')}, LaunchQueue::Direction::up, &unknown, o));
        assert_false(d.m.reorder(7, {sid('c')}, LaunchQueue::Direction::up, &unknown, o));
    }),
                  "");
    assert_str_eq(unknown, sid('c'));
    // The freed slot goes to the launch moved to the top.
    assert_contains(d.exited(2, 'a'), "spawn c 0\n");
    assert_int_equal(d.m.queue(7).size(), 0); // unknown launcher: an empty queue
}

void create_refuses_what_it_cannot_hold(void **) {
    Driver d(settings());
    d.create(0, 'a', 1);
    // The same id twice, or an unknown launcher.
    assert_str_eq(d.create(0, 'a', 2), "reply 2 503 error the launch cannot be accepted\n"
                                       "discard a\n");
    assert_str_eq(
        d.step([&](std::vector<Effect> *o) { d.m.create(at(0), sid('b'), 3, 3, false, o); }),
        "reply 3 503 error the launch cannot be accepted\n"
        "discard b\n");
}

// A Slurm session: spawned while sbatch runs (no host yet), its job id,
// pending in Slurm's queue past the timeout (503 naming the wait), placed
// with its node and port, ready, and a refused submission.
Session slurm_session(char id) {
    Session s;
    s.id = sid(id);
    s.application = "viz";
    s.slurm = true;
    s.response = "{\"id\":\"" + std::string(1, id) + "\"}";
    return s;
}

void slurm_job_lifecycle(void **) {
    Driver d(settings());
    d.create(0, 'a', 7);
    assert_str_eq(
        d.step([&](std::vector<Effect> *o) { d.m.spawned(at(0), slurm_session('a'), true, o); }),
        "emit started a\n"
        "persist a starting\n");
    assert_str_eq(d.m.table().route(sid('a')), "");
    assert_str_eq(d.step([&](std::vector<Effect> *o) { d.m.submitted(sid('a'), "42", o); }),
                  "persist a starting\n");
    assert_str_eq(d.m.table().find(sid('a'))->job, "42");
    // Once only: a second answer does not replace the job.
    assert_str_eq(d.step([&](std::vector<Effect> *o) { d.m.submitted(sid('a'), "43", o); }), "");
    d.m.scheduler_wait(sid('a'), "position 1; Slurm's reason: Resources");
    assert_str_eq(d.step([&](std::vector<Effect> *o) {
        d.m.placed(sid('a'), "node7", 12001, "{\"id\":\"a\",\"port\":12001}", o);
    }),
                  "persist a starting\n");
    // Placed: the wait is over; a timeout now is the app's.
    assert_str_eq(d.ready(3, 'a'), "unwatch a\n"
                                   "emit ready a Starting factory\n"
                                   "publish a node7:12001\n"
                                   "reply 7 200 text {\"id\":\"a\",\"port\":12001}\n");
    // Placed once: not again, and not once ready.
    assert_str_eq(
        d.step([&](std::vector<Effect> *o) { d.m.placed(sid('a'), "node8", 1, "{}", o); }), "");
    assert_str_eq(d.m.table().route(sid('a')), "node7:12001");
    // DELETE: scancel (the daemon's signal), answered when Slurm says it ended.
    assert_str_eq(d.stop(4, 'a', 8), "unwatch a\n"
                                     "signal a 15\n"
                                     "unpublish a\n");
    assert_str_eq(d.tick(9), "signal a 9\n");
    assert_contains(all_logged(), "PVL00023 session " + sid('a') +
                                      ": its Slurm job 42 has not ended yet; canceling it again");
    std::vector<Effect> out;
    d.m.exited(at(10), sid('a'), true, false, "Slurm job 42 CANCELLED", &out);
    assert_str_eq(lines(out), "unwatch a\n"
                              "forget a node7:12001\n"
                              "finish a canceled progress: stopped on request\n"
                              "reply 8 200 text {\"id\":\"a\",\"port\":12001}\n");
}

void slurm_job_pending_past_the_timeout(void **) {
    Driver d(settings());
    d.create(0, 'a', 7);
    d.step([&](std::vector<Effect> *o) { d.m.spawned(at(0), slurm_session('a'), true, o); });
    d.step([&](std::vector<Effect> *o) { d.m.submitted(sid('a'), "42", o); });
    d.m.scheduler_wait(sid('a'), "its Slurm job 42 is still pending (position 2 among this "
                                 "launcher's pending jobs; Slurm's reason: Resources)");
    assert_str_eq(d.tick(25),
                  "reply 7 503 error no node for viz within the timeout of 25 s: its Slurm job 42 "
                  "is still pending (position 2 among this launcher's pending jobs; Slurm's "
                  "reason: Resources); it is canceled, try again later\n"
                  "unwatch a\n"
                  "signal a 15\n");
    // Running but not ready by the timeout: the usual answer.
    d.create(30, 'b', 8);
    d.step([&](std::vector<Effect> *o) { d.m.spawned(at(30), slurm_session('b'), true, o); });
    d.m.scheduler_wait(sid('b'), "position 1");
    d.m.scheduler_wait(sid('b'), "");
    assert_contains(d.tick(55), "reply 8 503 error+log application viz did not print its ready");
}

void slurm_submission_refused(void **) {
    Driver d(settings(1, 1));
    d.create(0, 'a', 7);
    d.step([&](std::vector<Effect> *o) { d.m.spawned(at(0), slurm_session('a'), true, o); });
    // A second launch waits for the only slot.
    assert_str_eq(d.create(0, 'b', 8), "emit queued b at 1\n");
    std::vector<Effect> out;
    d.m.start_failed(at(1), sid('a'), 502,
                     "Slurm did not accept the job: sbatch: error: invalid partition specified: "
                     "nope",
                     &out);
    assert_str_eq(lines(out), "unwatch a\n"
                              "forget a :0\n"
                              "finish a failed error: Slurm did not accept the job: sbatch: "
                              "error: invalid partition specified: nope\n"
                              "reply 7 502 error Slurm did not accept the job: sbatch: error: "
                              "invalid partition specified: nope\n"
                              "spawn b 0\n");
    assert_null(d.m.table().find(sid('a')));
    assert_contains(all_logged(), "PVL00027");
    // Stopped while sbatch ran, then refused: the stop's waiters are told.
    d.step([&](std::vector<Effect> *o) { d.m.spawned(at(2), slurm_session('b'), true, o); });
    std::vector<Effect> none;
    d.m.start_failed(at(3), sid('z'), 503, "unknown", &none);
    d.m.start_failed(at(3), sid('a'), 503, "gone already", &none);
    assert_true(none.empty());
}

} // namespace

int run_session_machine_tests(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(launch_ready_exit),
        cmocka_unit_test(ready_session_fails),
        cmocka_unit_test(exit_before_ready),
        cmocka_unit_test(launch_timeout),
        cmocka_unit_test(probe_timeout_names_the_port),
        cmocka_unit_test(queue_starts_on_freed_slot),
        cmocka_unit_test(queue_when_ports_run_out),
        cmocka_unit_test(spawn_failures),
        cmocka_unit_test(delete_while_launching),
        cmocka_unit_test(delete_a_tracked_launch_that_a_client_waits_for),
        cmocka_unit_test(clients_that_go_away),
        cmocka_unit_test(restart_adoption),
        cmocka_unit_test(idle_limit),
        cmocka_unit_test(lifetime_limit_while_starting),
        cmocka_unit_test(shut_down_stops_everything),
        cmocka_unit_test(hand_over_and_abandon),
        cmocka_unit_test(reorder_the_queue),
        cmocka_unit_test(create_refuses_what_it_cannot_hold),
        cmocka_unit_test(slurm_job_lifecycle),
        cmocka_unit_test(slurm_job_pending_past_the_timeout),
        cmocka_unit_test(slurm_submission_refused),
    };
    return cmocka_run_group_tests_name("session_machine", tests, nullptr, nullptr);
}
