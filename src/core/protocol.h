// The control protocol between Apache's children and the session daemon, over
// a Unix stream socket, one exchange per connection.
//
// Request: one JSON object on one line, built and read only through
// encode_request/decode_request below. "op" names the operation; "l" is the
// launcher (the index of its PVLaunchConfig) for every op but map and stats;
// ids are sent and read in canonical (lower) case.
// Every op from a request also says who asks: user (whom Apache
// authenticated, absent for nobody), admin (true when PVLaunchAdmin grants
// the user), client (the client's address, for the audit trail and the
// stream caps). A session launched by an authenticated user is that user's:
// get, delete, watch and logtail from anyone else but an administrator
// answer 404, as for an unknown id; an administrator never gets another
// user's secret.
//   create   payload (object), base (the handler's path), async (seed 004:
//            answer 202 at once), form (seed 004's form interface: every
//            parameter required), notify (Status-Location URL)
//            -> the session (200), the launch resource (202), or an error
//   get      id -> the session or launch resource
//   delete   id -> the same, once the session is gone
//   list     -> {"launches": [...]}: running and waiting launches
//   reorder  ids (list), direction (top, up, down, bottom) -> the new list
//   logtail  id -> {"id", "log"}: the last lines of a session's log
//   watch    id -> 200, then the launch's
//            events as Server-Sent Events until it ends; 429 past
//            PVLaunchMaxStreams
//   map      id -> "host:port" of a ready session (no "l"), then "\n" and
//            its owner if it has one
//   stats    detail -> the daemon's counters for metrics and mod_status (no
//            "l"); with detail, "list": each session's short id, owner,
//            application and state, for mod_status's page
//   claim    -> {"sessions": n, "pid": p} (no "l"): a new Apache takes over
//            the sessions of a daemon whose Apache's parent is gone. The
//            daemon saves its journal, answers, and exits leaving its apps
//            to the new daemon. Only from the daemon's own user (Apache's
//            parent, not its children: 403); 409 while the daemon's own
//            Apache is alive.
// Response: "<status> <length>\n" followed by <length> bytes of body.
#pragma once
#include "json.h"

#include <cstddef>
#include <string>
#include <vector>

namespace pvl {

constexpr size_t max_request_line = 1024 * 1024;

enum class Op { create, get, del, list, reorder, logtail, watch, map, stats, claim };

// "create", "get", "delete"...
const char *op_name(Op op);

struct ControlRequest {
    Op op = Op::get;
    int launcher = 0;
    std::string id;
    // create
    JsonPtr payload;
    std::string base;
    bool async = false;
    bool form = false;
    std::string notify;
    // Who asks: r->user ("" for nobody), whether PVLaunchAdmin grants that
    // user, and the client's address.
    std::string user;
    bool admin = false;
    std::string client;
    // stats
    bool detail = false;
    // reorder
    std::vector<std::string> ids;
    std::string direction;
};

// One line, without its newline.
std::string encode_request(const ControlRequest &req);

// The request line of an op that needs no more than a launcher and an id.
inline std::string encode_request(Op op, int launcher, const std::string &id = std::string()) {
    ControlRequest req;
    req.op = op;
    req.launcher = launcher;
    req.id = id;
    return encode_request(req);
}

// False with *error set for a line that is not a request of this protocol
// (malformed JSON, an unknown op, a field of the wrong type or missing).
bool decode_request(const std::string &line, ControlRequest *out, std::string *error);

inline std::string frame_response(int status, const std::string &body) {
    return std::to_string(status) + " " + std::to_string(body.size()) + "\n" + body;
}

// Parses "<3-digit status> <decimal length>\n" at the start of `line`
// (the body may follow); false for anything else.
inline bool parse_response_header(const char *line, int *status, size_t *length) {
    int st = 0;
    for (int i = 0; i < 3; ++i) {
        if (line[i] < '0' || line[i] > '9')
            return false;
        st = st * 10 + (line[i] - '0');
    }
    if (line[3] != ' ' || st < 100 || st > 599)
        return false;
    const char *p = line + 4;
    size_t len = 0;
    if (*p < '0' || *p > '9')
        return false;
    for (; *p >= '0' && *p <= '9'; ++p) {
        len = len * 10 + static_cast<size_t>(*p - '0');
        if (len > 64UL * 1024 * 1024)
            return false;
    }
    if (*p != '\n')
        return false;
    *status = st;
    *length = len;
    return true;
}

} // namespace pvl
