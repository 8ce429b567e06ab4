// The session daemon's persisted table, so that a new daemon (after the old
// one was killed, or a restart that changed its configuration) re-adopts
// the apps that still run. Every change is written before it takes effect
// for anyone else.
#pragma once
#include "../core/state_journal.h"

#include <string>
#include <vector>

namespace pvl {

// The journal file (see core/state_journal.h). Appends are single write()s
// to an O_APPEND descriptor; a rewrite goes to a temporary file renamed over
// the journal, so a crash at any point leaves a file that replays to the
// table as it was before or after the change.
class StateJournal {
  public:
    explicit StateJournal(std::string path) : path_(std::move(path)) {}
    ~StateJournal();
    StateJournal(const StateJournal &) = delete;
    StateJournal &operator=(const StateJournal &) = delete;

    // A missing or unreadable file is an empty table.
    std::vector<PersistedSession> load() const;
    bool put(const PersistedSession &s, std::string *error);
    bool erase(const std::string &id, std::string *error);
    // Replaces the file with exactly these sessions.
    bool rewrite(const std::vector<PersistedSession> &all, std::string *error);
    // Records in the file (a compaction is due when this is much larger
    // than the table).
    size_t records() const { return records_; }
    void remove_file();

  private:
    bool append(const std::string &line, std::string *error);
    std::string path_;
    int fd_ = -1;
    size_t records_ = 0;
};

} // namespace pvl
