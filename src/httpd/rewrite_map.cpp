// The int:pvsession RewriteMap: session id to host:port, from the shared
// table (no round trip to the daemon unless it was writing).
#include "../core/ids.h"
#include "../core/json.h"
#include "../core/protocol.h"
#include "glue.h"
#include "request.h"

#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>

#include <cstring>

APLOG_USE_MODULE(pvlaunch);

namespace pvl {

char *rewrite_map_lookup(request_rec *r, char *key) {
    const size_t len = key ? std::strlen(key) : 0;
    if (!key || !valid_session_id(key, len))
        return nullptr;
    // The canonical (lower-case) id, on the stack: this runs on every
    // websocket connect. Valid ids are at most 64 characters.
    char id[64];
    canonical_session_id(key, len, id);
    std::string route, owner;
    switch (globals().table.route(id, len, &route, &owner)) {
    case SharedTable::Lookup::found:
        note_route_owner(r, id, len, owner);
        return apr_pstrmemdup(r->pool, route.data(), route.size());
    case SharedTable::Lookup::absent:
        return nullptr;
    case SharedTable::Lookup::body_elsewhere:
        break; // the daemon was busy writing: ask it
    }
    const std::string req = encode_request(Op::map, 0, std::string(id, len));
    int status = 0;
    std::string answer;
    if (daemon_call(r, req, 5000, false, &status, &answer) != CallResult::ok || status != 200)
        return nullptr;
    // "host:port", then the owner on a line of its own.
    const size_t nl = answer.find('\n');
    if (nl != std::string::npos) {
        note_route_owner(r, id, len, answer.substr(nl + 1));
        answer.resize(nl);
    }
    return apr_pstrmemdup(r->pool, answer.data(), answer.size());
}

} // namespace pvl
