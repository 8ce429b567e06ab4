// Who may reach a session. A session launched by a user that Apache
// authenticated (r->user) is that user's: the REST API answers anyone else
// 404, as for an unknown id, and the websocket route refuses them before
// proxying. Administrators are whoever PVLaunchAdmin's authorization
// provider grants (the providers of Require: user, group, ldap-group,
// expr...); they see and stop every session but never get its secret. No
// authentication of our own: whatever the site configured decides r->user.
#include "../core/log.h"
#include "../core/protocol.h"
#include "glue.h"
#include "request.h"

#include <ap_provider.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_auth.h>

#include <cstring>

APLOG_USE_MODULE(pvlaunch);

namespace pvl {

namespace {

// r->notes keys set by int:pvsession for the fixup below.
constexpr const char *note_owner = "pvlaunch-route-owner";
constexpr const char *note_id = "pvlaunch-route-id";

} // namespace

const char *set_admin(cmd_parms *cmd, void *, const char *args) {
    ServerConf *sc = server_conf(cmd->server);
    if (sc->admin_provider)
        return "PVLaunchAdmin is given twice for this server: administrators are set in one "
               "place";
    const char *line = args;
    const char *name = ap_getword_white(cmd->pool, &line);
    if (!name || !*name)
        return "PVLaunchAdmin takes an authorization provider and its arguments, as Require "
               "does: PVLaunchAdmin group pvadmins, PVLaunchAdmin user alice bob";
    const auto *provider = static_cast<const authz_provider *>(
        ap_lookup_provider(AUTHZ_PROVIDER_GROUP, name, AUTHZ_PROVIDER_VERSION));
    if (!provider || !provider->check_authorization)
        return apr_psprintf(cmd->pool,
                            "PVLaunchAdmin: no authorization provider named \"%s\" (is its module "
                            "loaded before this line? group needs mod_authz_groupfile, user "
                            "mod_authz_user, ldap-group mod_authnz_ldap)",
                            name);
    if (std::strcmp(name, "all") == 0 || std::strcmp(name, "env") == 0 ||
        std::strcmp(name, "ip") == 0 || std::strcmp(name, "host") == 0 ||
        std::strcmp(name, "local") == 0 || std::strcmp(name, "method") == 0)
        return apr_psprintf(cmd->pool,
                            "PVLaunchAdmin: \"%s\" does not name users; administrators are "
                            "authenticated users (user, group, ldap-group, expr...)",
                            name);
    const void *parsed = nullptr;
    if (provider->parse_require_line)
        if (const char *err = provider->parse_require_line(cmd, line, &parsed))
            return apr_psprintf(cmd->pool, "PVLaunchAdmin %s: %s", name, err);
    sc->admin_provider = provider;
    sc->admin_name = name;
    sc->admin_line = apr_pstrdup(cmd->pool, line);
    sc->admin_parsed = parsed;
    return nullptr;
}

bool admin_configured(request_rec *r) {
    return server_conf(r->server)->admin_provider != nullptr;
}

bool is_admin(request_rec *r) {
    const ServerConf *sc = server_conf(r->server);
    if (!r->user || !sc->admin_provider)
        return false;
    const auto *provider = static_cast<const authz_provider *>(sc->admin_provider);
    return provider->check_authorization(r, sc->admin_line, sc->admin_parsed) == AUTHZ_GRANTED;
}

void ask_as(request_rec *r, ControlRequest *req, bool with_admin) {
    req->user = r->user ? r->user : "";
    req->client = r->useragent_ip ? r->useragent_ip : "";
    req->admin = with_admin && is_admin(r);
}

bool owns(request_rec *r, const std::string &owner) {
    return owner.empty() || (r->user && owner == r->user);
}

void audit_refusal(request_rec *r, const char *what, const std::string &id,
                   const std::string &owner) {
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "PVL00506: %s",
                  audit_line(std::string("refused ") + what + " of another user's session (owner " +
                                 owner + ")",
                             id, "", r->user ? r->user : "", r->useragent_ip ? r->useragent_ip : "")
                      .c_str());
}

void note_route_owner(request_rec *r, const char *id, size_t len, const std::string &owner) {
    if (owner.empty())
        return; // nothing to check: a site without authentication
    apr_table_setn(r->notes, note_owner, apr_pstrmemdup(r->pool, owner.data(), owner.size()));
    apr_table_setn(r->notes, note_id, apr_pstrmemdup(r->pool, id, len));
}

// Fixups run after authentication and authorization, before the proxy
// handler: a request routed to a session by int:pvsession goes on only for
// the session's owner. Anyone else gets 404, as for an unknown id. Cheap
// for every other request: one lookup in an empty-ish notes table.
int route_owner_check(request_rec *r) {
    const char *owner = apr_table_get(r->notes, note_owner);
    if (!owner || (r->user && std::strcmp(owner, r->user) == 0))
        return DECLINED;
    const char *id = apr_table_get(r->notes, note_id);
    if (!r->user)
        ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r,
                      "PVL00225: the websocket route of session %s is refused: the session "
                      "belongs to an authenticated user but Apache authenticated nobody for %s; "
                      "require authentication there (e.g. Require valid-user in its <Location>)",
                      id ? id : "?", r->uri);
    audit_refusal(r, "websocket connection", id ? id : "", owner);
    return HTTP_NOT_FOUND;
}

} // namespace pvl
