// Turns a POST payload into what to run and what to answer: validation,
// sanitize rules, variables and template substitution. Pure: no I/O.
#pragma once
#include "config.h"
#include "json.h"

#include <string>
#include <utility>
#include <vector>

namespace pvl {

struct LaunchError {
    int status = 0; // HTTP status
    std::string message;
};

// What the server decides for a session, visible to templates.
struct ServerVars {
    std::string id;
    std::string host;
    int port = 0;
    std::string secret; // generated; a client-sent secret replaces it
    std::string application;
    std::string user; // whom Apache authenticated, "" without authentication
    // A Slurm app: the node and port are known only once the job runs, so
    // ${host} and ${port} become core/slurm.h's markers (the batch script
    // fills them in on the node; fill_route() in the answer).
    bool slurm = false;
};

struct LaunchPlan {
    std::string application;
    std::vector<std::string> argv;
    std::string dir;
    std::vector<std::pair<std::string, std::string>> env;
    std::vector<std::string> ready_lines;
    std::vector<std::string> slurm_options; // a Slurm app's sbatch options, rendered
    std::string secret;                     // empty when the app takes none
    JsonPtr response;                       // the object POST/GET/DELETE answer with
    // Placeholders left as written (Unresolved::keep), each name once.
    std::vector<std::string> unresolved;
};

// What an unknown ${name} does. The ParaViewWeb API keeps it as written, as
// wslink's safe_substitute does (clients leave optional keys out); seed
// 004's form and header interface requires every parameter of a service.
enum class Unresolved { keep, reject };

// Whether the app takes a secret: one of its templates (cmd, dir, env, the
// sessionURL, sessionData) uses ${secret}, or `fields` names it. Only then
// is one generated and answered, as wslink does: an app that keeps its
// default secret would reject a random one.
bool app_uses_secret(const LauncherConfig &cfg, const App &app);

// Parses a request body: a JSON object, whatever the Content-Type.
JsonPtr parse_payload(const char *data, size_t len, LaunchError *err);

// Checks what can be checked before taking a port: `application` present
// and known. Sets *app.
bool check_payload(const LauncherConfig &cfg, const json_t *payload, std::string *app,
                   LaunchError *err);

// Applies the sanitize rules to a payload value given as text; returns false
// with *err set if the value is rejected and the rule has no default.
bool sanitize_value(const SanitizeRule &rule, const std::string &key, std::string *value,
                    LaunchError *err);

bool plan_launch(const LauncherConfig &cfg, const json_t *payload, const ServerVars &vars,
                 LaunchPlan *plan, LaunchError *err, Unresolved unresolved = Unresolved::keep);

// A Slurm session's answer once its job is placed: the markers of ${host}
// and ${port} in `response` (JSON text) replaced by `host` and `port`; a
// value that is only the port marker (the "port" field) becomes a number.
// "" if `response` is not a JSON object.
std::string fill_route(const std::string &response, const std::string &host, int port);

} // namespace pvl
