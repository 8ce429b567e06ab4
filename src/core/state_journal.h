// The session daemon's persisted table, as a journal: one JSON object per
// line, either {"put": session} (a new session or a new state of one) or
// {"del": id}. A change costs one appended line instead of a rewrite of the
// whole table; the daemon compacts the file (an atomic rewrite holding only
// live sessions) once it has grown well past the table.
#pragma once
#include <string>
#include <vector>

namespace pvl {

struct PersistedSession {
    std::string id;
    std::string launcher_file; // which PVLaunchConfig it came from
    std::string application;
    std::string owner; // "" (and absent from the record) without authentication
    std::string host;
    int port = 0;
    int pid = 0;
    unsigned long long start_time = 0; // /proc/<pid>/stat field 22
    bool slurm = false;                // a Slurm session (absent from a local one's record)
    std::string job;                   // its job id; "" while it was being submitted
    std::string state;                 // starting, ready, stopping
    std::string response;
};

// One journal line, '\n' included.
std::string journal_put_line(const PersistedSession &s);
std::string journal_del_line(const std::string &id);

// The sessions a journal describes, in the order they were first put. A
// line that does not parse (a write cut short by a crash) is skipped, as
// is a record with missing fields. The array format of earlier versions
// (one JSON array of sessions) is read too.
std::vector<PersistedSession> replay_journal(const std::string &text);

} // namespace pvl
