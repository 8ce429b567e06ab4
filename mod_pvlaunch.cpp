// mod_pvlaunch: the ParaViewWeb launcher inside Apache httpd.
// The module struct, its directives and hook registration; the REST API is
// in src/httpd/rest_api.cpp, the session daemon in src/daemon/.
#include "src/core/log.h"
#include "src/httpd/glue.h"

#include <ap_mpm.h>
#include <apr_optional.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_cfgtree.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

extern "C" {
#include <mod_rewrite.h>
#include <mod_status.h>
}

APLOG_USE_MODULE(pvlaunch);

namespace pvl {

Globals &globals() {
    static Globals g;
    return g;
}

namespace {

void *create_server_conf(apr_pool_t *p, server_rec *) {
    void *mem = apr_pcalloc(p, sizeof(ServerConf));
    return new (mem) ServerConf();
}

void *merge_server_conf(apr_pool_t *p, void *basev, void *addv) {
    auto *base = static_cast<ServerConf *>(basev);
    auto *add = static_cast<ServerConf *>(addv);
    auto *out = new (apr_pcalloc(p, sizeof(ServerConf))) ServerConf();
    out->launcher = add->launcher >= 0 ? add->launcher : base->launcher;
    out->max_body = add->max_body >= 0 ? add->max_body : base->max_body;
    const bool own_queue = add->queue_length >= 0;
    out->queue_length = own_queue ? add->queue_length : base->queue_length;
    out->queue_wait = own_queue ? add->queue_wait : base->queue_wait;
    out->maintenance = add->maintenance >= 0 ? add->maintenance : base->maintenance;
    out->secret_on_get = add->secret_on_get >= 0 ? add->secret_on_get : base->secret_on_get;
    const ServerConf *admin = add->admin_provider ? add : base;
    out->admin_provider = admin->admin_provider;
    out->admin_name = admin->admin_name;
    out->admin_line = admin->admin_line;
    out->admin_parsed = admin->admin_parsed;
    return out;
}

// Global directives belong to the main server only.
const char *check_global(cmd_parms *cmd) {
    return ap_check_cmd_context(cmd, GLOBAL_ONLY);
}

const char *set_config(cmd_parms *cmd, void *, const char *arg) {
    const char *path = ap_server_root_relative(cmd->pool, arg);
    if (!path)
        return apr_pstrcat(cmd->pool, "PVLaunchConfig: invalid path ", arg, nullptr);
    ServerConf *sc = server_conf(cmd->server);
    if (sc->launcher >= 0)
        return "PVLaunchConfig is given twice for this server";
    auto cfg = std::make_unique<LauncherConfig>();
    std::string error;
    if (!load_launcher_config(path, cfg.get(), &error))
        return apr_pstrcat(cmd->pool, "PVLaunchConfig: ", error.c_str(), nullptr);
    for (const auto &n : cfg->notices)
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, cmd->server, "PVL00301: %s: %s", path, n.c_str());
    for (const auto &w : cfg->warnings)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server, "PVL00302: %s: %s", path,
                     w.c_str());
    Globals &g = globals();
    sc->launcher = static_cast<int>(g.launchers.size());
    g.launchers.push_back(std::move(cfg));
    return nullptr;
}

const char *set_socket(cmd_parms *cmd, void *, const char *arg) {
    if (const char *err = check_global(cmd))
        return err;
    globals().settings.socket_path = ap_runtime_dir_relative(cmd->pool, arg);
    return nullptr;
}

const char *set_user(cmd_parms *cmd, void *, const char *user, const char *group) {
    if (const char *err = check_global(cmd))
        return err;
    globals().settings.app_user = user;
    globals().settings.app_group = group ? group : "";
    return nullptr;
}

// A global number of seconds, at most `max` (0 allowed: "no limit" or "at once").
const char *set_global_seconds(cmd_parms *cmd, double *out, const char *arg, double max) {
    if (const char *err = check_global(cmd))
        return err;
    if (!parse_seconds(arg, max, false, out))
        return apr_psprintf(cmd->pool, "%s takes a number of seconds between 0 and %.0f",
                            cmd->cmd->name, max);
    return nullptr;
}

const char *set_stop_timeout(cmd_parms *cmd, void *, const char *arg) {
    return set_global_seconds(cmd, &globals().settings.stop_grace, arg, 3600);
}

const char *set_keep_finished(cmd_parms *cmd, void *, const char *arg) {
    return set_global_seconds(cmd, &globals().settings.keep_finished, arg, 7 * 86400);
}

// 0: no limit.
const char *set_idle_timeout(cmd_parms *cmd, void *, const char *arg) {
    return set_global_seconds(cmd, &globals().settings.idle_timeout, arg, 365 * 86400);
}

const char *set_max_lifetime(cmd_parms *cmd, void *, const char *arg) {
    return set_global_seconds(cmd, &globals().settings.max_lifetime, arg, 365 * 86400);
}

// PVLaunchMaxStreams <total> [<per launch> [<per client address>]]
const char *set_max_streams(cmd_parms *cmd, void *, const char *total, const char *per_launch,
                            const char *per_client) {
    if (const char *err = check_global(cmd))
        return err;
    Settings &s = globals().settings;
    long long v[3] = {0, static_cast<long long>(s.streams_per_launch),
                      static_cast<long long>(s.streams_per_client)};
    const char *args[3] = {total, per_launch, per_client};
    for (int i = 0; i < 3; ++i)
        if (args[i] && !parse_count(args[i], 1, 100000, &v[i]))
            return "PVLaunchMaxStreams takes one to three whole numbers between 1 and 100000: in "
                   "all, per launch, per client address";
    s.streams_total = static_cast<size_t>(v[0]);
    s.streams_per_launch = static_cast<size_t>(v[1]);
    s.streams_per_client = static_cast<size_t>(v[2]);
    return nullptr;
}

// 0: sessions stop as soon as Apache's parent is gone.
const char *set_claim_window(cmd_parms *cmd, void *, const char *arg) {
    return set_global_seconds(cmd, &globals().settings.claim_window, arg, 86400);
}

const char *set_max_body(cmd_parms *cmd, void *, const char *arg) {
    long long v = 0;
    if (!parse_count(arg, 2, 64 * 1024 * 1024, &v))
        return "PVLaunchMaxBody takes a number of bytes between 2 and 67108864";
    server_conf(cmd->server)->max_body = static_cast<apr_off_t>(v);
    return nullptr;
}

const char *set_queue(cmd_parms *cmd, void *, const char *length, const char *wait) {
    long long n = 0;
    if (!parse_count(length, 0, 100000, &n))
        return "PVLaunchQueue takes a queue length between 0 and 100000 (0: no queue) and a "
               "maximum wait in seconds";
    double w = 0;
    if (!parse_seconds(wait, 86400, true, &w))
        return "PVLaunchQueue: the maximum wait must be a number of seconds between 0 and 86400";
    ServerConf *sc = server_conf(cmd->server);
    sc->queue_length = static_cast<long>(n);
    sc->queue_wait = w;
    return nullptr;
}

// Like mod_env's PassEnv: the value is Apache's own, read when the config
// is; apps get it on top of PATH and HOME, and their own env wins.
const char *pass_env(cmd_parms *cmd, void *, const char *name) {
    if (const char *err = check_global(cmd))
        return err;
    if (!*name || std::strchr(name, '='))
        return apr_pstrcat(cmd->pool, "PVLaunchPassEnv: \"", name,
                           "\" is not an environment variable name", nullptr);
    const char *value = std::getenv(name);
    if (!value) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server,
                     "PVL00303: PVLaunchPassEnv: %s is not set in Apache's environment "
                     "(%s:%d); apps do not get it",
                     name, cmd->directive->filename, cmd->directive->line_num);
        return nullptr;
    }
    auto &env = globals().settings.pass_env;
    auto same =
        std::find_if(env.begin(), env.end(), [name](const auto &kv) { return kv.first == name; });
    if (same != env.end())
        same->second = value;
    else
        env.emplace_back(name, value);
    return nullptr;
}

// PVLaunchMaxStarting <n>: 0 for no cap.
const char *set_max_starting(cmd_parms *cmd, void *, const char *arg) {
    if (const char *err = check_global(cmd))
        return err;
    long long v = 0;
    if (!parse_count(arg, 0, 100000, &v))
        return "PVLaunchMaxStarting takes a whole number between 0 (no cap) and 100000";
    globals().settings.max_starting = static_cast<size_t>(v);
    return nullptr;
}

const char *set_secret_on_get(cmd_parms *cmd, void *, int on) {
    server_conf(cmd->server)->secret_on_get = on ? 1 : 0;
    return nullptr;
}

const char *set_maintenance(cmd_parms *cmd, void *, int on) {
    server_conf(cmd->server)->maintenance = on ? 1 : 0;
    return nullptr;
}

using cmd_fn = const char *(*)();
using any_fn = void (*)();

// One table for every directive: name, handler, how many arguments, where
// it may appear, and its help text.
#define PVL_DIRECTIVE(kind, name, fn, where, help)                                                 \
    AP_INIT_##kind(name, reinterpret_cast<cmd_fn>(reinterpret_cast<any_fn>(fn)), nullptr, where,   \
                   help)

const command_rec directives[] = {
    PVL_DIRECTIVE(TAKE1, "PVLaunchConfig", set_config, RSRC_CONF,
                  "Launcher config file (wslink launcher or ParaViewWeb launcher JSON)"),
    PVL_DIRECTIVE(TAKE1, "PVLaunchSocket", set_socket, RSRC_CONF,
                  "Control socket of the session daemon (default: pvlaunch.sock in "
                  "DefaultRuntimeDir)"),
    PVL_DIRECTIVE(TAKE12, "PVLaunchUser", set_user, RSRC_CONF,
                  "User and optional group the applications run as (default: User/Group)"),
    PVL_DIRECTIVE(TAKE1, "PVLaunchStopTimeout", set_stop_timeout, RSRC_CONF,
                  "Seconds between SIGTERM and SIGKILL when a session is stopped (default 5)"),
    PVL_DIRECTIVE(TAKE1, "PVLaunchMaxBody", set_max_body, RSRC_CONF,
                  "Largest accepted POST body in bytes (default 65536)"),
    PVL_DIRECTIVE(TAKE2, "PVLaunchQueue", set_queue, RSRC_CONF,
                  "Queue launches when at capacity: maximum queue length and maximum wait in "
                  "seconds (default: no queue)"),
    PVL_DIRECTIVE(TAKE1, "PVLaunchKeepFinished", set_keep_finished, RSRC_CONF,
                  "Seconds an ended asynchronous launch stays visible to GET (default 600)"),
    PVL_DIRECTIVE(TAKE1, "PVLaunchIdleTimeout", set_idle_timeout, RSRC_CONF,
                  "Stop a session after this many seconds without a client connection "
                  "(default 0: never)"),
    PVL_DIRECTIVE(TAKE1, "PVLaunchMaxLifetime", set_max_lifetime, RSRC_CONF,
                  "Stop any session at this age in seconds (default 0: no limit)"),
    PVL_DIRECTIVE(TAKE1, "PVLaunchClaimWindow", set_claim_window, RSRC_CONF,
                  "Seconds the sessions are kept for the next Apache when Apache's parent "
                  "dies (default 300; 0: stop them at once)"),
    PVL_DIRECTIVE(TAKE123, "PVLaunchMaxStreams", set_max_streams, RSRC_CONF,
                  "Event streams held at once: in all (default: a quarter of "
                  "MaxRequestWorkers), per launch (4), per client address (8)"),
    PVL_DIRECTIVE(TAKE1, "PVLaunchMaxStarting", set_max_starting, RSRC_CONF,
                  "Launches in progress (started, not yet ready) at once, over every launcher; "
                  "past it a launch gets 429 with Retry-After (default 0: no cap)"),
    PVL_DIRECTIVE(ITERATE, "PVLaunchPassEnv", pass_env, RSRC_CONF,
                  "Environment variables of Apache passed on to the applications (default: "
                  "none; they get PATH, HOME and their own env)"),
    PVL_DIRECTIVE(RAW_ARGS, "PVLaunchAdmin", set_admin, RSRC_CONF,
                  "Who administers the launcher, as a Require line: an authorization provider "
                  "and its arguments (PVLaunchAdmin group pvadmins). Administrators list, "
                  "reorder and stop every user's sessions, never seeing their secrets"),
    PVL_DIRECTIVE(FLAG, "PVLaunchSecretOnGet", set_secret_on_get, RSRC_CONF,
                  "Off: GET <location>/<id> answers the session without its secret, as wslink "
                  "does; only the POST that created it carries it (default On)"),
    PVL_DIRECTIVE(FLAG, "PVLaunchMaintenance", set_maintenance, RSRC_CONF,
                  "On: new launches are refused with 503; sessions keep running (default Off)"),
    {nullptr, {nullptr}, nullptr, 0, RAW_ARGS, nullptr}};

void httpd_log_sink(LogLevel level, const char *msgno, const std::string &text) {
    static const int levels[] = {APLOG_ERR, APLOG_WARNING, APLOG_NOTICE, APLOG_INFO, APLOG_DEBUG};
    ap_log_error(APLOG_MARK, levels[static_cast<int>(level)], 0, nullptr, "%s: %s", msgno,
                 text.c_str());
}

char *map_function(request_rec *r, char *key) noexcept {
    try {
        return rewrite_map_lookup(r, key);
    } catch (...) {
        return nullptr;
    }
}

apr_status_t reset_globals(void *) {
    Globals &g = globals();
    g.launchers.clear();
    g.settings = Settings();
    g.api_bases.clear();
    return APR_SUCCESS;
}

int pre_config(apr_pool_t *pconf, apr_pool_t *, apr_pool_t *) noexcept {
    reset_globals(nullptr);
    apr_pool_cleanup_register(pconf, nullptr, reset_globals, apr_pool_cleanup_null);
    log_set_sink(httpd_log_sink);
    // int:pvsession must exist before the config is read.
    APR_OPTIONAL_FN_TYPE(ap_register_rewrite_mapfunc) *reg =
        APR_RETRIEVE_OPTIONAL_FN(ap_register_rewrite_mapfunc);
    if (reg)
        reg(const_cast<char *>("pvsession"), map_function);
    return OK;
}

// The first argument of a directive, without quotes and a section's '>'.
std::string first_arg(const char *args) {
    std::string a = args ? args : "";
    size_t end = a.find_first_of(" \t>");
    a = a.substr(0, end);
    if (a.size() >= 2 && (a[0] == '"' || a[0] == '\'') && a.back() == a[0])
        a = a.substr(1, a.size() - 2);
    return a;
}

bool sets_handler(const ap_directive_t *d) {
    for (; d; d = d->next) {
        if (strcasecmp(d->directive, "SetHandler") == 0 &&
            strncasecmp(first_arg(d->args).c_str(), "pvlaunch", 8) == 0)
            return true;
        // <If>, <Else>, <Limit>... inside the <Location>
        if (d->first_child && sets_handler(d->first_child))
            return true;
    }
    return false;
}

// The paths of the <Location> sections that set one of our handlers
// (pvlaunch, pvlaunch-admin...). A request is
// matched to the longest of them: the section's path cannot be read back
// from the request once an <If> inside it applied (its path is "*If").
void collect_api_bases(const ap_directive_t *d, std::vector<std::string> *out) {
    for (; d; d = d->next) {
        if (strcasecmp(d->directive, "<Location") == 0) {
            std::string path = first_arg(d->args);
            while (!path.empty() && path.back() == '/')
                path.pop_back();
            if (sets_handler(d->first_child) && path.find_first_of("*?[~") == std::string::npos)
                out->push_back(path);
        } else if (d->first_child) {
            collect_api_bases(d->first_child, out);
        }
    }
}

int post_config(apr_pool_t *pconf, apr_pool_t *, apr_pool_t *, server_rec *s) noexcept {
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG)
        return OK;
    Globals &g = globals();
    g.api_bases.clear();
    collect_api_bases(ap_conftree, &g.api_bases);
    if (g.launchers.empty()) {
        stop_retained_daemon(s);
        return OK;
    }
    // A launcher's queue comes from the servers that use it; they must agree.
    g.settings.queues.assign(g.launchers.size(), QueueOptions());
    std::vector<server_rec *> set_by(g.launchers.size(), nullptr);
    for (server_rec *v = s; v; v = v->next) {
        const ServerConf *sc = server_conf(v);
        if (sc->launcher < 0 || sc->queue_length < 0)
            continue;
        QueueOptions q;
        q.max_length = static_cast<size_t>(sc->queue_length);
        q.max_wait = sc->queue_wait;
        QueueOptions &have = g.settings.queues[static_cast<size_t>(sc->launcher)];
        server_rec *&first = set_by[static_cast<size_t>(sc->launcher)];
        if (first && (have.max_length != q.max_length || have.max_wait != q.max_wait)) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, v,
                         "PVL00217: PVLaunchQueue differs between %s:%u and %s:%u, which share "
                         "the launcher config %s; give the queue once, where PVLaunchConfig is",
                         first->defn_name ? first->defn_name : "?", first->defn_line_number,
                         v->defn_name ? v->defn_name : "?", v->defn_line_number,
                         g.launchers[static_cast<size_t>(sc->launcher)]->file.c_str());
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        have = q;
        first = v;
    }
    // Event streams hold a worker each: by default a quarter of them at most.
    if (g.settings.streams_total == 0) {
        int daemons = 0, threads = 0;
        ap_mpm_query(AP_MPMQ_MAX_DAEMONS, &daemons);
        ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
        const long workers = static_cast<long>(daemons) * (threads > 0 ? threads : 1);
        g.settings.streams_total = static_cast<size_t>(workers / 4 > 0 ? workers / 4 : 1);
    }
    try {
        return start_session_daemon(pconf, s);
    } catch (const std::exception &e) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "PVL00210: cannot start: %s", e.what());
        return HTTP_INTERNAL_SERVER_ERROR;
    }
}

int handler(request_rec *r) noexcept {
    try {
        int rc = rest_handler(r);
        if (rc == DECLINED)
            rc = metrics_handler(r);
        return rc == DECLINED ? admin_page_handler(r) : rc;
    } catch (const std::exception &e) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "PVL00105: internal error: %s", e.what());
        return HTTP_INTERNAL_SERVER_ERROR;
    }
}

void child_init(apr_pool_t *, server_rec *) noexcept {
    child_setup();
}

int fixups(request_rec *r) noexcept {
    try {
        return route_owner_check(r);
    } catch (...) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
}

int status_hook(request_rec *r, int flags) noexcept {
    try {
        return status_section(r, flags);
    } catch (...) {
        return OK;
    }
}

void register_hooks(apr_pool_t *) {
    static const char *const after_rewrite[] = {"mod_rewrite.c", nullptr};
    ap_hook_pre_config(pre_config, after_rewrite, nullptr, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, nullptr, nullptr, APR_HOOK_MIDDLE);
    ap_hook_handler(handler, nullptr, nullptr, APR_HOOK_MIDDLE);
    // After mod_rewrite's own fixups (per-directory rules may call the map).
    ap_hook_fixups(fixups, after_rewrite, nullptr, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, status_hook, nullptr, nullptr, APR_HOOK_MIDDLE);
}

} // namespace
} // namespace pvl

extern "C" {
__attribute__((visibility("default")))
module AP_MODULE_DECLARE_DATA pvlaunch_module = {STANDARD20_MODULE_STUFF,
                                                 nullptr,
                                                 nullptr,
                                                 pvl::create_server_conf,
                                                 pvl::merge_server_conf,
                                                 pvl::directives,
                                                 pvl::register_hooks,
                                                 AP_MODULE_FLAG_NONE};
}
