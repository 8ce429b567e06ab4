// The session and launch state machine: every decision about when a launch
// starts, waits, is answered, times out, is stopped and ends. Events come in
// as calls (a request, a spawn's result, ready, an exit, a timer tick, an
// adoption record); what must happen goes out as Effect values, which the
// session daemon carries out. Pure: no descriptor, no system call, no clock
// read. The caller passes the time; tests drive whole lifecycles with
// scripted events.
//
// A launch (id) moves through these states:
//
//   create ──► spawning ──► starting ──► ready ──► (exit) ended
//      │          │  ▲         │  │        │
//      │          ▼  │         │  ▼        ▼
//      └──────► waiting ───────┘  stopping ──► (exit) ended
//                 │
//                 ▼
//               ended (canceled, wait timed out, shutdown)
//
// spawning: the daemon was told to start it (Effect::spawn) and reports back
//           with spawned(), spawn_failed() or no_capacity();
// waiting:  in its launcher's queue (PVLaunchQueue) until a slot frees;
// starting: its app runs, not ready yet (ready line, or port accepting);
// ready:    routed; GET and DELETE find it;
// stopping: signalled (DELETE, timeout, limits, shutdown); its port is held
//           until the app has exited.
#pragma once
#include "launch_queue.h"
#include "metrics.h"
#include "session_table.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace pvl {

using Instant = std::chrono::steady_clock::time_point;

// Names a request that waits for its answer (a control connection); the
// daemon maps it to its connection. 0 is nobody.
using ReplyTo = uint64_t;
constexpr ReplyTo nobody = 0;

struct MachineLauncher {
    int max_session = 0;       // 0: only the port pool limits
    double ready_timeout = 25; // seconds from spawn to ready
    size_t queue_length = 0;   // PVLaunchQueue; 0: no queue
    double queue_wait = 0;     // seconds a launch may wait
};

struct MachineSettings {
    std::vector<MachineLauncher> launchers;
    double stop_grace = 5;   // SIGTERM to SIGKILL
    double idle_timeout = 0; // 0: off
    double max_lifetime = 0; // 0: off
};

struct Effect {
    enum class Kind {
        spawn,     // start launch `id` of `launcher`; report with spawned() & co.
        signal,    // send `number` to session's app (SIGTERM, SIGKILL)
        kill_now,  // kill the app and wait for it (restart hand-over, exit)
        unwatch,   // no longer wait for the session's readiness (log, probe)
        reply,     // answer request `to` with `status` and `body`
        persist,   // journal the session's row
        publish,   // route the session (shared table, map file)
        unpublish, // stop routing it
        forget,    // the session is gone: release its port, journal, I/O
        emit,      // an event for the launch's watchers
        finish,    // the launch ended as `end`, for `why`
        discard,   // the launch never began (refused): drop its record
        adopted,   // an earlier daemon's session is taken over: route it
    };
    // What a reply carries.
    enum class Body {
        error,          // {"error": text}
        error_with_log, // the same, with the last lines of the session's log
        text,           // `text` as is (a session's JSON response)
        launch,         // the launch resource (seed 004); `text` if it is gone
        canceled,       // {"id":..., "state":"canceled"}
    };
    // started: its app runs; ready: `text` is the ready line (or "");
    // queued: it waits at `position`; positions: the queue of `launcher`
    // moved.
    enum class Event { started, ready, queued, positions };

    Kind kind;
    std::string id;
    int launcher = 0;
    ReplyTo to = nobody;
    int number = 0; // reply: HTTP status; signal: the signal
    Body body = Body::error;
    Event event = Event::started;
    std::string text; // reply text; finish: why; emit ready: the line
    LaunchState end = LaunchState::completed;
    const char *log_kind = "progress"; // finish: progress, warning or error
    size_t position = 0;               // emit queued
    Session session;        // persist, publish, unpublish, forget, kill_now; finish: if it had one
    bool was_ready = false; // forget: it was routed
};

// A journal record of an earlier daemon, checked against the system.
struct Adoption {
    Session session;    // launcher -1 when its config is gone
    std::string state;  // "ready", "starting", "stopping"
    bool alive = false; // its process still runs (pid and start time match)
    bool port_free = false;
    double age = 0; // seconds since the process started
};

class SessionMachine {
  public:
    explicit SessionMachine(MachineSettings settings);

    // A launch request, already validated. `to` waits for the answer: a
    // ParaViewWeb client is answered when the session is ready; an
    // asynchronous one (tracked) at once with 202.
    void create(Instant now, const std::string &id, int launcher, ReplyTo to, bool tracked,
                std::vector<Effect> *out);
    // The daemon's answer to Effect::spawn. `waits_for_line`: ready comes
    // from a ready line (else from the port accepting connections).
    void spawned(Instant now, Session session, bool waits_for_line, std::vector<Effect> *out);
    void spawn_failed(Instant now, const std::string &id, int status, const std::string &why,
                      std::vector<Effect> *out);
    // No port or slot now: the launch waits, or is refused if the queue is full.
    void no_capacity(Instant now, const std::string &id, std::vector<Effect> *out);

    void ready(Instant now, const std::string &id, const std::string &line,
               std::vector<Effect> *out);

    // A Slurm session (see core/slurm.h), between spawned() and ready():
    // sbatch gave its job id; the job waits for Slurm (`why`, e.g. "its
    // Slurm job 42 is still pending (...)"; "" once it runs), which a
    // ready timeout reports (503); the job was placed on `host` with `port`, and its
    // answer is `response` with them; sbatch failed (`status`: 502 or 503).
    void submitted(const std::string &id, const std::string &job, std::vector<Effect> *out);
    void scheduler_wait(const std::string &id, const std::string &why);
    void placed(const std::string &id, const std::string &host, int port,
                const std::string &response, std::vector<Effect> *out);
    void start_failed(Instant now, const std::string &id, int status, const std::string &why,
                      std::vector<Effect> *out);
    // The app ended: `how` describes it; `clean` for exit status 0;
    // `known` false when it was adopted (no wait status).
    void exited(Instant now, const std::string &id, bool known, bool clean, const std::string &how,
                std::vector<Effect> *out);

    // DELETE: a waiting launch is canceled, a session stopped (answered
    // once its app has exited). A tracked launch is stoppable while it
    // starts; a ParaViewWeb session only once ready (its id is unknown
    // before). False if there is nothing to stop (404).
    bool stop(Instant now, const std::string &id, int launcher, ReplyTo to,
              std::vector<Effect> *out);
    // A waiting request's connection went away.
    void gone(Instant now, ReplyTo to, std::vector<Effect> *out);
    // Moves waiting launches; false with *unknown set if one is not waiting.
    bool reorder(int launcher, const std::vector<std::string> &ids, LaunchQueue::Direction d,
                 std::string *unknown, std::vector<Effect> *out);

    // Deadlines: ready timeouts, SIGKILL after the grace, queue waits,
    // lifetime, and queue retries. `busy_ports`: ports with an established
    // client connection, when an idle scan was due (idle_scan_due), or null.
    void tick(Instant now, const std::set<int> *busy_ports, std::vector<Effect> *out);
    bool idle_scan_due(Instant now) const;
    // The next time tick() has something to do.
    Instant next_deadline(Instant now) const;
    // A starting session whose ready deadline has passed (its log may hold
    // the line: the daemon reads it before tick()).
    bool ready_overdue(const std::string &id, Instant now) const;

    // Restart: an earlier daemon's session, taken over or killed.
    void adopt(Instant now, const Adoption &a, std::vector<Effect> *out);
    // Stopping for good: waiting launches canceled, every session stopped.
    void shut_down(Instant now, std::vector<Effect> *out);
    bool shutting_down() const { return shutting_down_; }
    // Hand-over to the next daemon: launches in flight are given up (killed,
    // their clients told to retry); ready sessions stay.
    void hand_over(Instant now, std::vector<Effect> *out);
    // The daemon exits: what is left is killed.
    void abandon(std::vector<Effect> *out);

    const SessionTable &table() const { return table_; }
    // In its launcher's queue.
    bool waiting(const std::string &id) const;
    size_t waiting_count() const;
    // A create() would wait in the queue (rather than be spawned).
    bool would_queue(int launcher) const;
    const LaunchQueue &queue(int launcher) const;
    size_t queue_position(const std::string &id, int launcher) const;
    // The launch was asked for by a seed 004 client.
    bool tracked(const std::string &id) const;

    // For operators: since the machine started.
    struct Stats {
        uint64_t started = 0;
        std::map<std::string, uint64_t> outcomes;
        size_t adopted = 0, adopt_gone = 0, adopt_killed = 0;
        Histogram launch_duration{launch_duration_bounds()};
        Histogram queue_wait{queue_wait_bounds()};
    };
    const Stats &stats() const { return stats_; }

  private:
    // What the machine keeps of a session beside its table row.
    struct Life {
        Instant created;
        Instant started;
        Instant ready_deadline;
        Instant kill_deadline;
        Instant last_active;
        bool killed = false;
        bool waits_for_line = true;
        bool tracked = false;
        ReplyTo creator = nobody;
        std::vector<ReplyTo> stop_waiters;
        LaunchState end_as = LaunchState::canceled;
        std::string end_why;        // "" until it is stopped: no allocation per live session
        std::string scheduler_wait; // a Slurm job still pending: why
    };
    // A launch not yet running: being spawned, or in the queue.
    struct Pending {
        int launcher = 0;
        ReplyTo creator = nobody;
        bool tracked = false;
        bool queued = false;     // in the queue (else being spawned)
        bool from_queue = false; // being spawned by a drain of the queue
        Instant created;
        Instant deadline; // queued: how long it may wait
    };

    void drain(Instant now, int launcher, std::vector<Effect> *out);
    void spawn(const std::string &id, const Pending &p, std::vector<Effect> *out);
    void queue_in(Instant now, const std::string &id, Pending &p, std::vector<Effect> *out);
    // Ends a pending launch: its client gets `status` (if any), the launch
    // ends as `state`.
    void cancel_pending(const std::string &id, int status, const std::string &why,
                        LaunchState state, std::vector<Effect> *out);
    void stop_session(Instant now, Session &s, Life &life, LaunchState end_as,
                      const std::string &why, std::vector<Effect> *out);
    void positions(int launcher, std::vector<Effect> *out) const;
    // `s`: the session the launch had, if any (carried on the finish effect).
    void end(const std::string &id, LaunchState state, const char *kind, const std::string &why,
             std::vector<Effect> *out, const Session *s = nullptr);
    const MachineLauncher &limits(int launcher) const;
    bool at_capacity(int launcher) const;

    MachineSettings settings_;
    SessionTable table_;
    std::map<std::string, Life> lives_;
    std::map<std::string, Pending> waiting_; // spawning or queued
    std::vector<LaunchQueue> queues_;
    Instant next_drain_{};
    Instant next_idle_scan_{};
    bool shutting_down_ = false;
    Stats stats_;
};

// Effect builders, for the machine and its tests.
Effect reply_effect(ReplyTo to, int status, Effect::Body body, std::string text,
                    const std::string &id = std::string(), int launcher = 0);

} // namespace pvl
