// The session daemon's persisted table, so that a new daemon (after a
// restart of Apache, or after the old one was killed) re-adopts the apps
// that still run. Written atomically (temp file + rename) on every change.
#pragma once
#include <string>
#include <vector>

namespace pvl {

struct PersistedSession {
    std::string id;
    std::string launcher_file; // which PVLaunchConfig it came from
    std::string application;
    std::string host;
    int port = 0;
    int pid = 0;
    unsigned long long start_time = 0; // /proc/<pid>/stat field 22
    std::string state;                 // starting, ready, stopping
    std::string response;
};

bool save_state(const std::string &path, const std::vector<PersistedSession> &sessions,
                std::string *error);
// A missing or unreadable file is an empty table.
std::vector<PersistedSession> load_state(const std::string &path);

// The start time of a live process, 0 if there is none: with the pid it
// names one process for good (pids are reused, start times are not).
unsigned long long process_start_time(int pid);

// A pidfd for a process that is not our child (readable once it exits), or
// -1.
int open_pidfd(int pid);

} // namespace pvl
