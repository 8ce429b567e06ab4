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

// The audit trail (PVL005nn, at notice level): `what` happened to a
// session, and who asked from where. One line, the same fields in the same
// order every time:
//   <what>: id=<id> app=<application> user=<"name" or -> client=<address or ->
// A user name is written as a JSON string (it comes from a login and may
// hold spaces or quotes); the other fields never hold spaces.
std::string audit_line(const std::string &what, const std::string &id, const std::string &app,
                       const std::string &user, const std::string &client);

} // namespace pvl
