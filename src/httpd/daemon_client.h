// Apache children's side of the control protocol (core/protocol.h).
#pragma once
#include <httpd.h>

#include <string>
#include <sys/un.h>

namespace pvl {

// The address of the control socket at `path`; false if the path does not
// fit in a sockaddr_un.
bool unix_address(const std::string &path, struct sockaddr_un *addr);

enum class CallResult { ok, unavailable, client_gone };

// Sends one request line and reads the answer. With `watch_client`, gives
// up (closing the control connection, which abandons the launch) as soon as
// the HTTP client hangs up.
CallResult daemon_call(request_rec *r, const std::string &request, int timeout_ms,
                       bool watch_client, int *status, std::string *body);

// Opens a control connection and sends one request line; the caller reads
// the answer (for streams). Returns the socket, or -1.
int daemon_open(request_rec *r, const std::string &request);

// The HTTP client's socket (to notice it hang up), or -1.
int client_socket(request_rec *r);

} // namespace pvl
