#include "state_file.h"

#include "../core/json.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
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

} // namespace pvl
