#include "log.h"

#include "json.h"

#include <cstdio>

namespace pvl {
namespace {

void stderr_sink(LogLevel level, const char *msgno, const std::string &text) {
    static const char *names[] = {"error", "warn", "notice", "info", "debug"};
    std::fprintf(stderr, "[pvlaunch:%s] %s: %s\n", names[static_cast<int>(level)], msgno,
                 text.c_str());
}

LogSink current_sink = stderr_sink;

} // namespace

void log_set_sink(LogSink sink) {
    current_sink = sink ? sink : stderr_sink;
}

void log(LogLevel level, const char *msgno, const std::string &text) {
    current_sink(level, msgno, text);
}

std::string audit_line(const std::string &what, const std::string &id, const std::string &app,
                       const std::string &user, const std::string &client) {
    std::string quoted = "-";
    if (!user.empty()) {
        JsonPtr j(json_stringn(user.data(), user.size())); // null if not UTF-8
        quoted = j ? json_to_string(j.get()) : "\"(not UTF-8)\"";
    }
    return what + ": id=" + (id.empty() ? "-" : id) + " app=" + (app.empty() ? "-" : app) +
           " user=" + quoted + " client=" + (client.empty() ? "-" : client);
}

} // namespace pvl
