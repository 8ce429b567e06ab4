#include "launch_plan.h"

#include "slurm.h"

#include "template.h"

#include <algorithm>
#include <map>

namespace pvl {

JsonPtr parse_payload(const char *data, size_t len, LaunchError *err) {
    json_error_t jerr;
    JsonPtr j(json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr));
    if (!j) {
        err->status = 400;
        err->message = std::string("request body is not valid JSON: ") + jerr.text +
                       "; send a JSON object such as {\"application\": \"<name>\"}";
        return nullptr;
    }
    if (!json_is_object(j.get())) {
        err->status = 400;
        err->message = "request body must be a JSON object, such as {\"application\": \"<name>\"}";
        return nullptr;
    }
    return j;
}

bool check_payload(const LauncherConfig &cfg, const json_t *payload, std::string *app,
                   LaunchError *err) {
    std::string known;
    for (const auto &kv : cfg.apps)
        known += (known.empty() ? "" : ", ") + kv.first;
    json_t *a = json_object_get(payload, "application");
    if (!a) {
        err->status = 400;
        err->message = "request has no \"application\"; name one of: " + known;
        return false;
    }
    if (!json_is_string(a)) {
        err->status = 400;
        err->message = "\"application\" must be a string, one of: " + known;
        return false;
    }
    app->assign(json_string_value(a), json_string_length(a));
    if (!cfg.apps.count(*app)) {
        err->status = 400;
        err->message = "unknown application \"" + *app + "\" (known: " + known + ")";
        return false;
    }
    return true;
}

bool sanitize_value(const SanitizeRule &rule, const std::string &key, std::string *value,
                    LaunchError *err) {
    bool ok;
    if (rule.type == SanitizeRule::Type::in_list)
        ok = std::find(rule.list.begin(), rule.list.end(), *value) != rule.list.end();
    else
        ok = rule.re->full_match(*value);
    if (ok)
        return true;
    if (rule.has_default) {
        *value = rule.default_value;
        return true;
    }
    err->status = 400;
    err->message =
        "value of \"" + key +
        "\" is not allowed by the launcher's sanitize rule for it; send an allowed value";
    return false;
}

namespace {

bool uses_variable(const std::string &tmpl, const std::string &name) {
    bool used = false;
    substitute(tmpl, [&](const std::string &n, std::string *) {
        used = used || n == name;
        return false;
    });
    return used;
}

} // namespace

bool app_uses_secret(const LauncherConfig &cfg, const App &app) {
    if (std::find(cfg.fields.begin(), cfg.fields.end(), "secret") != cfg.fields.end())
        return true;
    for (const auto &arg : app.cmd)
        if (uses_variable(arg, "secret"))
            return true;
    for (const auto &kv : app.env)
        if (uses_variable(kv.second, "secret"))
            return true;
    if (uses_variable(app.dir, "secret") || uses_variable(cfg.session_url, "secret"))
        return true;
    if (cfg.session_data) {
        const char *key;
        json_t *v;
        json_object_foreach(cfg.session_data.get(), key, v) {
            if (json_is_string(v) && uses_variable(json_string_value(v), "secret"))
                return true;
        }
    }
    return false;
}

bool plan_launch(const LauncherConfig &cfg, const json_t *payload, const ServerVars &vars,
                 LaunchPlan *plan, LaunchError *err, Unresolved unresolved) {
    const App &app = cfg.apps.at(vars.application);
    JsonPtr response(json_object());

    // Payload values after sanitize; they are both echoed and substitutable.
    std::map<std::string, std::string> payload_vars;
    const char *key;
    json_t *v;
    json_object_foreach(const_cast<json_t *>(payload), key, v) {
        auto rule = cfg.sanitize.find(key);
        std::string text;
        bool scalar = json_scalar_text(v, &text);
        if (rule != cfg.sanitize.end()) {
            if (!scalar)
                text.clear(); // a non-scalar can only match through its default
            if (!sanitize_value(rule->second, key, &text, err))
                return false;
            json_object_set_new(response.get(), key, json_stringn(text.data(), text.size()));
            payload_vars[key] = text;
        } else {
            json_object_set(response.get(), key, v);
            if (scalar)
                payload_vars[key] = text;
        }
    }

    // A client may send its own secret (seed 000 shows it); it goes through
    // the sanitize rules like any payload value, and wins over ours.
    std::string secret = app_uses_secret(cfg, app) ? vars.secret : std::string();
    auto client_secret = payload_vars.find("secret");
    const bool client_sent_secret = json_is_string(json_object_get(payload, "secret")) &&
                                    client_secret != payload_vars.end() &&
                                    !client_secret->second.empty();
    if (client_sent_secret)
        secret = client_secret->second;

    if (vars.slurm)
        for (const auto &kv : payload_vars)
            if (kv.second.find('\x1d') != std::string::npos) {
                err->status = 400;
                err->message = "value of \"" + kv.first + "\" holds a control character (0x1d)";
                return false;
            }
    const std::string host_text = vars.slurm ? slurm_host_marker : vars.host;
    const std::string port_text = vars.slurm ? slurm_port_marker : std::to_string(vars.port);
    VarLookup lookup = [&](const std::string &name, std::string *out) {
        if (name == "id")
            *out = vars.id;
        else if (name == "host")
            *out = host_text;
        else if (name == "port")
            *out = port_text;
        else if (name == "secret" && !secret.empty())
            *out = secret;
        else if (name == "application")
            *out = vars.application;
        else if (name == "user")
            *out = vars.user; // Apache's, never the payload's, even when empty
        else {
            auto p = cfg.properties.find(name);
            if (p != cfg.properties.end()) {
                *out = p->second;
                return true;
            }
            auto q = payload_vars.find(name);
            if (q == payload_vars.end())
                return false;
            *out = q->second;
        }
        return true;
    };

    plan->unresolved.clear();
    // Every template goes through here, so that each unknown name is noted.
    auto expand = [&](const std::string &tmpl) {
        TemplateResult r = substitute(tmpl, lookup);
        for (const auto &name : r.missing)
            if (std::find(plan->unresolved.begin(), plan->unresolved.end(), name) ==
                plan->unresolved.end())
                plan->unresolved.push_back(name);
        return std::move(r.text);
    };
    plan->argv.clear();
    for (const auto &arg : app.cmd)
        plan->argv.push_back(expand(arg));
    if (unresolved == Unresolved::reject && !plan->unresolved.empty()) {
        err->status = 400;
        err->message = "the command of \"" + vars.application + "\" needs \"" +
                       plan->unresolved.front() + "\", which the request does not give";
        return false;
    }
    // Apps start where wslink starts them: in the launcher config's
    // directory, unless the app names its own.
    plan->dir = app.dir.empty() ? cfg.dir : expand(app.dir);
    plan->env = app.env;
    for (auto &kv : plan->env)
        kv.second = expand(kv.second);

    if (cfg.session_data) {
        json_object_foreach(cfg.session_data.get(), key, v) {
            if (json_is_string(v)) {
                std::string s = expand(json_string_value(v));
                json_object_set_new(response.get(), key, json_stringn(s.data(), s.size()));
            } else {
                json_object_set(response.get(), key, v);
            }
        }
    }
    std::string url = expand(cfg.session_url);
    json_object_set_new(response.get(), "id", json_stringn(vars.id.data(), vars.id.size()));
    json_object_set_new(response.get(), "sessionURL", json_stringn(url.data(), url.size()));
    if (!secret.empty())
        json_object_set_new(response.get(), "secret", json_stringn(secret.data(), secret.size()));
    json_object_set_new(response.get(), "application",
                        json_stringn(vars.application.data(), vars.application.size()));
    // "host" and "port" are answered when `fields` names them, and always
    // with the server's values: a payload (or sessionData) of the same name
    // must not look like the session's route.
    for (const char *name : {"host", "port"}) {
        const bool wanted =
            std::find(cfg.fields.begin(), cfg.fields.end(), name) != cfg.fields.end();
        if (!wanted && !json_object_get(response.get(), name))
            continue;
        if (name[0] == 'h')
            json_object_set_new(response.get(), "host", json_string(host_text.c_str()));
        else if (vars.slurm)
            json_object_set_new(response.get(), "port", json_string(slurm_port_marker));
        else
            json_object_set_new(response.get(), "port", json_integer(vars.port));
    }
    plan->slurm_options.clear();
    if (vars.slurm)
        for (const auto &opt : app.slurm_options) {
            std::string o = expand(opt);
            if (o.find('\x1d') != std::string::npos) {
                err->status = 500;
                err->message = "the sbatch options of \"" + vars.application +
                               "\" use ${host} or ${port}, which are known only once the job runs";
                return false;
            }
            plan->slurm_options.push_back(std::move(o));
        }

    plan->application = vars.application;
    plan->ready_lines = cfg.ready_lines_for(app);
    plan->secret = secret;
    plan->response = std::move(response);
    return true;
}

namespace {

void fill_value(json_t *v, const std::string &host, int port) {
    const std::string hm = slurm_host_marker, pm = slurm_port_marker;
    if (json_is_object(v)) {
        const char *key;
        json_t *item;
        json_object_foreach(v, key, item) {
            if (json_is_string(item) && json_string_value(item) == pm)
                json_object_set_new(v, key, json_integer(port));
            else
                fill_value(item, host, port);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) fill_value(item, host, port);
    } else if (json_is_string(v)) {
        std::string s(json_string_value(v), json_string_length(v));
        if (s.find('\x1d') == std::string::npos)
            return;
        const std::string port_text = std::to_string(port);
        for (const auto &kv : {std::make_pair(hm, host), std::make_pair(pm, port_text)})
            for (size_t at = s.find(kv.first); at != std::string::npos;
                 at = s.find(kv.first, at + kv.second.size()))
                s.replace(at, kv.first.size(), kv.second);
        json_string_setn(v, s.data(), s.size());
    }
}

} // namespace

std::string fill_route(const std::string &response, const std::string &host, int port) {
    JsonPtr j(json_loadb(response.data(), response.size(), 0, nullptr));
    if (!json_is_object(j.get()))
        return std::string();
    fill_value(j.get(), host, port);
    return json_to_string(j.get());
}

} // namespace pvl
