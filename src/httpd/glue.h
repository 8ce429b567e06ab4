// Shared state of the httpd glue. Everything here is rebuilt on each config
// read (pre_config resets it), since the DSO is reloaded on every restart.
#pragma once
#include "../core/config.h"
#include "../core/settings.h"
#include "../core/shared_table.h"

// httpd.h first: http_config.h needs its types.
#include <httpd.h>

#include <http_config.h>

#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

extern "C" module AP_MODULE_DECLARE_DATA pvlaunch_module;

namespace pvl {

struct ServerConf {
    int launcher = -1;       // index into Globals::launchers; -1: none
    apr_off_t max_body = -1; // -1: unset
    long queue_length = -1;  // PVLaunchQueue; -1: unset
    double queue_wait = 0;
    int maintenance = -1;   // PVLaunchMaintenance; -1: unset
    int secret_on_get = -1; // PVLaunchSecretOnGet; -1: unset (On)
    // PVLaunchAdmin <provider> <args>: an authz_provider (mod_auth.h), its
    // name, require line and parsed form. Null: no administrators.
    const void *admin_provider = nullptr;
    const char *admin_name = nullptr;
    const char *admin_line = nullptr;
    const void *admin_parsed = nullptr;
};

struct Globals {
    std::vector<std::unique_ptr<LauncherConfig>> launchers;
    Settings settings;                  // every tunable, with its default
    std::vector<std::string> api_bases; // <Location> paths setting one of our handlers
    // Written by the daemon, read by the children (mapped before both forks).
    SharedTable table;
};

Globals &globals();

constexpr apr_off_t default_max_body = 64 * 1024;

inline ServerConf *server_conf(server_rec *s) {
    return static_cast<ServerConf *>(ap_get_module_config(s->module_config, &pvlaunch_module));
}

// daemon_process.cpp
int start_session_daemon(apr_pool_t *pconf, server_rec *s);
// A restart removed every PVLaunchConfig: the kept daemon stops its apps.
void stop_retained_daemon(server_rec *s);
// In each child: the shared table becomes read-only there, the channel to
// the daemon is closed, and the child is set to die with Apache's parent.
void child_setup();

// rest_api.cpp: SetHandler pvlaunch.
int rest_handler(request_rec *r);
// event_stream.cpp: GET <location>/<id>/events.
int events_stream(request_rec *r, int launcher, const std::string &id);
// metrics_status.cpp: SetHandler pvlaunch-metrics, and mod_status's section
// (flags: AP_STATUS_SHORT for ?auto).
int metrics_handler(request_rec *r);
int status_section(request_rec *r, int flags);
// admin_page.cpp: SetHandler pvlaunch-admin.
int admin_page_handler(request_rec *r);
struct ControlRequest;

// access.cpp: owners and administrators.
// Who asks: r->user, the client's address and (`with_admin`) whether
// PVLaunchAdmin grants the user.
void ask_as(request_rec *r, ControlRequest *req, bool with_admin = true);
const char *set_admin(cmd_parms *cmd, void *, const char *args);
bool admin_configured(request_rec *r);
// PVLaunchAdmin grants r->user.
bool is_admin(request_rec *r);
// A session of `owner` ("" for nobody) is r->user's to see.
bool owns(request_rec *r, const std::string &owner);
// Refused access to another user's session, in the audit trail.
void audit_refusal(request_rec *r, const char *what, const std::string &id,
                   const std::string &owner);
// int:pvsession found session `id` of `owner`: the fixup checks r->user.
void note_route_owner(request_rec *r, const char *id, size_t len, const std::string &owner);
int route_owner_check(request_rec *r);

// rewrite_map.cpp: int:pvsession.
char *rewrite_map_lookup(request_rec *r, char *key);

} // namespace pvl
