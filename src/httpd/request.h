// What every handler of the module shares: JSON answers and errors, relaying
// the session daemon's answers, reading request bodies, and the handler's
// own path.
#pragma once
#include "daemon_client.h"

#include <httpd.h>

#include <string>

namespace pvl {

// A JSON body with `status`, never cached (session objects carry secrets).
int send_json(request_rec *r, int status, const std::string &body);
// {"error": message}.
int send_error(request_rec *r, int status, const std::string &message);
// 405 with Allow set, as JSON.
int method_not_allowed(request_rec *r, const char *allow);
// The daemon's answer as JSON, or the error that stands for a failed call.
int relay(request_rec *r, CallResult res, int status, const std::string &body);
// The same, with seed 004's resources as JSON or XML as Accept asks.
int relay_resource(request_rec *r, CallResult res, int status, const std::string &body);
// PVLaunchMaxBody of the request's server.
apr_off_t body_limit(request_rec *r);

enum class BodyRead { ok, too_large, filter_error };
// Reads the whole request body, at most `limit` bytes. On a filter error
// (LimitRequestBody, a broken chunked body...) *filter_status is what the
// handler must return.
BodyRead read_body(request_rec *r, std::string *out, int *filter_status, apr_off_t limit);

// The URL path of the <Location> that set our handler, without a trailing
// '/' ("" for the root or a pattern section).
std::string handler_base(request_rec *r);

} // namespace pvl
