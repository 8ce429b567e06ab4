#include "state_file.h"

#include "../core/json.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace pvl {

StateJournal::~StateJournal() {
    if (fd_ >= 0)
        close(fd_);
}

std::vector<PersistedSession> StateJournal::load() const {
    std::string text;
    int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return {};
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        text.append(buf, static_cast<size_t>(n));
    close(fd);
    return replay_journal(text);
}

bool StateJournal::append(const std::string &line, std::string *error) {
    if (fd_ < 0)
        fd_ = open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd_ < 0 || write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
        *error = std::string("cannot write ") + path_ + ": " + std::strerror(errno);
        return false;
    }
    ++records_;
    return true;
}

bool StateJournal::put(const PersistedSession &s, std::string *error) {
    return append(journal_put_line(s), error);
}

bool StateJournal::erase(const std::string &id, std::string *error) {
    return append(journal_del_line(id), error);
}

bool StateJournal::rewrite(const std::vector<PersistedSession> &all, std::string *error) {
    std::string text;
    for (const auto &s : all)
        text += journal_put_line(s);
    std::string tmp = path_ + ".tmp";
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    bool ok = fd >= 0 && write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    if (fd >= 0)
        ok = close(fd) == 0 && ok;
    ok = ok && rename(tmp.c_str(), path_.c_str()) == 0;
    if (!ok) {
        *error = std::string("cannot write ") + path_ + ": " + std::strerror(errno);
        unlink(tmp.c_str());
        return false;
    }
    // Later appends go to the new file, opened now so that the daemon's
    // descriptors stay the same from one change to the next.
    if (fd_ >= 0)
        close(fd_);
    fd_ = open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
    records_ = all.size();
    return true;
}

void StateJournal::remove_file() {
    if (fd_ >= 0)
        close(fd_);
    fd_ = -1;
    records_ = 0;
    unlink(path_.c_str());
}

unsigned long long process_start_time(int pid) {
    if (pid <= 1)
        return 0;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = std::fopen(path, "re");
    if (!f)
        return 0;
    char buf[1024];
    size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    // The command name may hold spaces and parentheses: fields count from
    // the last ')'. Field 3 (state) follows it; start time is field 22.
    char *p = std::strrchr(buf, ')');
    if (!p)
        return 0;
    char state = p[2];
    if (state == 'Z' || state == 'X')
        return 0;
    p += 2;
    for (int field = 3; field < 22 && p; ++field) {
        p = std::strchr(p, ' ');
        if (p)
            ++p;
    }
    return p ? std::strtoull(p, nullptr, 10) : 0;
}

int open_pidfd(int pid) {
    return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

} // namespace pvl
