#include "log.h"

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

} // namespace pvl
