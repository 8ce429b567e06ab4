// Logging for the core: the glue installs a sink, the core never includes
// httpd headers. Every message carries a stable number (PVLnnnnn) so tests
// and operators can match it.
#pragma once
#include <string>

namespace pvl {

enum class LogLevel { error, warning, notice, info, debug };

using LogSink = void (*)(LogLevel level, const char *msgno, const std::string &text);

void log_set_sink(LogSink sink);
void log(LogLevel level, const char *msgno, const std::string &text);

} // namespace pvl
