#include "config.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace pvl {
namespace {

// Collects the first error with the file name in front.
class Checker {
  public:
    explicit Checker(const std::string &file) : file_(file) {}
    bool fail(const std::string &what) {
        if (error_.empty())
            error_ = file_ + ": " + what;
        return false;
    }
    bool ok() const { return error_.empty(); }
    const std::string &error() const { return error_; }

  private:
    std::string file_;
    std::string error_;
};

const char *type_name(const json_t *j) {
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

bool get_string(Checker &c, json_t *j, const std::string &where, std::string *out) {
    if (!json_is_string(j))
        return c.fail(where + " must be a string, not " + type_name(j));
    out->assign(json_string_value(j), json_string_length(j));
    return true;
}

// A string or a list of strings (wait_line accepts both).
bool get_string_list(Checker &c, json_t *j, const std::string &where, std::vector<std::string> *out,
                     bool allow_single) {
    out->clear();
    if (allow_single && json_is_string(j)) {
        out->emplace_back(json_string_value(j), json_string_length(j));
        return true;
    }
    if (!json_is_array(j))
        return c.fail(where + " must be " + (allow_single ? "a string or " : "") +
                      "a list of strings, not " + type_name(j));
    size_t i;
    json_t *v;
    json_array_foreach(j, i, v) {
        std::string s;
        if (!get_string(c, v, where + "[" + std::to_string(i) + "]", &s))
            return false;
        out->push_back(s);
    }
    return true;
}

bool get_ready_lines(Checker &c, json_t *j, const std::string &where,
                     std::vector<std::string> *out) {
    if (!get_string_list(c, j, where, out, true))
        return false;
    for (const auto &s : *out)
        if (s.empty())
            return c.fail(where + " must not contain an empty line (it would match anything)");
    return true;
}

bool get_number(Checker &c, json_t *j, const std::string &where, double *out) {
    if (!json_is_number(j))
        return c.fail(where + " must be a number, not " + type_name(j));
    *out = json_number_value(j);
    return true;
}

// A positive whole number, from JSON or from text with an optional suffix:
// `units` maps each accepted suffix to its factor ("" must be listed for
// a bare number).
bool get_amount(Checker &c, json_t *v, const std::string &where,
                const std::vector<std::pair<std::string, unsigned long long>> &units,
                const std::string &form, unsigned long long *out) {
    unsigned long long n = 0, factor = 0;
    std::string suffix;
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        n = static_cast<unsigned long long>(json_integer_value(v));
    } else if (json_is_string(v)) {
        const std::string text = json_string_value(v);
        size_t i = 0;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i < 18)
            n = n * 10 + static_cast<unsigned long long>(text[i++] - '0');
        if (i == 0 || (i < text.size() && text[i] >= '0' && text[i] <= '9'))
            return c.fail(where + " must be " + form + ", not \"" + text + "\"");
        suffix = text.substr(i);
    } else {
        return c.fail(where + " must be " + form + ", not " + type_name(v));
    }
    for (const auto &u : units)
        if (u.first == suffix)
            factor = u.second;
    if (factor == 0 || n == 0 || n > ~0ULL / factor)
        return c.fail(where + " must be " + form);
    *out = n * factor;
    return true;
}

bool parse_limits(Checker &c, json_t *j, const std::string &where, AppLimits *out) {
    if (!json_is_object(j))
        return c.fail(where + " must be an object, not " + type_name(j));
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        const std::string k(key);
        if (k == "memory") {
            if (!get_amount(c, v, where + ".memory",
                            {{"", 1},
                             {"K", 1ULL << 10},
                             {"M", 1ULL << 20},
                             {"G", 1ULL << 30},
                             {"T", 1ULL << 40}},
                            "a number of bytes, optionally with K, M, G or T (1024-based)",
                            &out->memory))
                return false;
        } else if (k == "cpu") {
            if (!get_amount(c, v, where + ".cpu", {{"", 1}, {"%", 1}},
                            "a percentage of one CPU (\"200%\" is two CPUs)", &out->cpu_percent) ||
                out->cpu_percent > 100000)
                return c.fail(where + ".cpu must be at most 100000%");
        } else if (k == "tasks") {
            if (!get_amount(c, v, where + ".tasks", {{"", 1}}, "a number of tasks", &out->tasks))
                return false;
        } else {
            return c.fail(where + " has an unknown limit \"" + k +
                          "\" (known: memory, cpu, tasks)");
        }
    }
    return true;
}

bool get_session_count(Checker &c, json_t *v, const std::string &what, int *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000)
        return c.fail(what + " must be a whole number between 0 and 1000000 (0: no limit)");
    *out = static_cast<int>(json_integer_value(v));
    return true;
}

// "slurm": {"options": ["--partition=viz", ...]}. The options are sbatch's,
// given to it as arguments (never through a shell); mod_pvlaunch sets the
// ones it needs itself.
bool parse_slurm_app(Checker &c, json_t *j, const std::string &where, App *app) {
    if (!json_is_object(j))
        return c.fail(where + " must be an object ({\"options\": [...]}), not " + type_name(j));
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        const std::string k(key);
        if (k != "options")
            return c.fail(where + " has an unknown key \"" + k + "\" (known: options)");
        if (!get_string_list(c, v, where + " options", &app->slurm_options, false))
            return false;
    }
    for (const std::string &o : app->slurm_options) {
        // What the launcher must decide itself: where the output goes (it
        // reads the ready line there), that the job is not held, its
        // parsable answer.
        static const char *const ours[] = {"--output",    "-o",      "--error", "-e",
                                           "--parsable",  "--wrap",  "--hold",  "-H",
                                           "--open-mode", "--chdir", "-D",      "--array",
                                           "-a",          "--wait",  "-W",      "--test-only"};
        if (o.empty() || o[0] != '-')
            return c.fail(where + " options: \"" + o +
                          "\" is not an sbatch option (options start with -)");
        for (const char *name : ours) {
            const size_t n = std::strlen(name);
            if (o.compare(0, n, name) == 0 && (o.size() == n || o[n] == '=' || name[1] != '-'))
                return c.fail(where + " options: " + name +
                              " is set by mod_pvlaunch (the job's output is where it reads the "
                              "ready line; the app's dir is its \"dir\")");
        }
    }
    app->slurm = true;
    return true;
}

bool parse_slurm_settings(Checker &c, json_t *j, LauncherConfig *cfg) {
    if (!json_is_object(j))
        return c.fail(std::string("\"slurm\" must be an object, not ") + type_name(j));
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        const std::string k(key);
        if (k == "host_regex") {
            if (!get_string(c, v, "slurm.host_regex", &cfg->slurm.host_regex))
                return false;
            auto re = std::make_shared<Regex>();
            std::string error;
            if (!re->compile(cfg->slurm.host_regex, &error))
                return c.fail("slurm.host_regex \"" + cfg->slurm.host_regex +
                              "\" is invalid: " + error);
            cfg->slurm.host_re = re;
        } else if (k == "max_jobs") {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 100000)
                return c.fail("slurm.max_jobs must be a whole number between 1 and 100000");
            cfg->slurm.max_jobs = static_cast<int>(json_integer_value(v));
        } else if (k == "poll_interval") {
            if (!json_is_number(v) || json_number_value(v) < 0.1 || json_number_value(v) > 60)
                return c.fail("slurm.poll_interval must be a number of seconds from 0.1 to 60");
            cfg->slurm.poll_interval = json_number_value(v);
        } else {
            return c.fail("\"slurm\" has an unknown key \"" + k +
                          "\" (known: host_regex, max_jobs, poll_interval)");
        }
    }
    return true;
}

bool parse_app(Checker &c, const std::string &name, json_t *j, App *app,
               std::vector<std::string> *warnings) {
    std::string where = "application \"" + name + "\"";
    if (!json_is_object(j))
        return c.fail(where + " must be an object, not " + type_name(j));
    json_t *cmd = json_object_get(j, "cmd");
    if (!cmd)
        return c.fail(where + " has no \"cmd\"");
    if (!get_string_list(c, cmd, where + " cmd", &app->cmd, false))
        return false;
    if (app->cmd.empty() || app->cmd[0].empty())
        return c.fail(where + " cmd must name a program (it is empty)");
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        std::string k(key);
        if (k == "cmd")
            continue;
        if (k == "dir") {
            if (!get_string(c, v, where + " dir", &app->dir))
                return false;
        } else if (k == "ready_line" || k == "wait_line") {
            if (!get_ready_lines(c, v, where + " " + k, &app->ready_lines))
                return false;
        } else if (k == "limits") {
            if (!parse_limits(c, v, where + " limits", &app->limits))
                return false;
        } else if (k == "max_session_per_user") {
            if (!get_session_count(c, v, where + " max_session_per_user",
                                   &app->max_session_per_user))
                return false;
        } else if (k == "slurm") {
            if (!parse_slurm_app(c, v, where + " slurm", app))
                return false;
        } else if (k == "env") {
            if (!json_is_object(v))
                return c.fail(where + " env must be an object of strings, not " + type_name(v));
            const char *ek;
            json_t *ev;
            json_object_foreach(v, ek, ev) {
                std::string val;
                if (!get_string(c, ev, where + " env." + ek, &val))
                    return false;
                if (!*ek || std::strchr(ek, '='))
                    return c.fail(where + " env has an invalid variable name \"" + std::string(ek) +
                                  "\"");
                app->env.emplace_back(ek, val);
            }
        } else {
            warnings->push_back(
                where + " has an unknown key \"" + k +
                "\" (known: cmd, dir, env, ready_line, limits, max_session_per_user, "
                "slurm); ignored");
        }
    }
    return true;
}

bool parse_apps(Checker &c, json_t *j, const char *key, LauncherConfig *cfg) {
    if (!json_is_object(j))
        return c.fail(std::string("\"") + key + "\" must be an object, not " + type_name(j));
    const char *name;
    json_t *v;
    json_object_foreach(j, name, v) {
        if (cfg->apps.count(name))
            return c.fail(std::string("application \"") + name + "\" is defined twice");
        App app;
        if (!parse_app(c, name, v, &app, &cfg->warnings))
            return false;
        cfg->apps.emplace(name, std::move(app));
    }
    return true;
}

bool get_port(Checker &c, json_t *j, const std::string &where, int *out) {
    if (!json_is_integer(j))
        return c.fail(where + " must be an integer port, not " + type_name(j));
    json_int_t p = json_integer_value(j);
    if (p < 1 || p > 65535)
        return c.fail(where + " is not a port number (1-65535): " + std::to_string(p));
    *out = static_cast<int>(p);
    return true;
}

bool parse_resources(Checker &c, json_t *j, LauncherConfig *cfg) {
    if (!json_is_array(j))
        return c.fail(std::string("\"resources\" must be a list, not ") + type_name(j));
    size_t i;
    json_t *r;
    json_array_foreach(j, i, r) {
        std::string where = "resources[" + std::to_string(i) + "]";
        if (!json_is_object(r))
            return c.fail(where + " must be an object, not " + type_name(r));
        Resource res;
        json_t *host = json_object_get(r, "host");
        if (!host)
            return c.fail(where + " has no \"host\"");
        if (!get_string(c, host, where + " host", &res.host))
            return false;
        if (!valid_host(res.host))
            return c.fail(where + " host \"" + res.host +
                          "\" is not a host name (at most 100 letters, digits, '.', '-')");
        json_t *range = json_object_get(r, "port_range");
        const char *rname = "port_range";
        if (!range) {
            range = json_object_get(r, "port");
            rname = "port";
        }
        if (!range)
            return c.fail(where + " has no \"port_range\" (or \"port\")");
        std::string rw = where + " " + rname;
        if (!json_is_array(range) || json_array_size(range) != 2)
            return c.fail(rw + " must be a list [first, last]");
        if (!get_port(c, json_array_get(range, 0), rw + "[0]", &res.port_lo) ||
            !get_port(c, json_array_get(range, 1), rw + "[1]", &res.port_hi))
            return false;
        if (res.port_lo > res.port_hi)
            return c.fail(rw + " is inverted: [" + std::to_string(res.port_lo) + ", " +
                          std::to_string(res.port_hi) + "] is an empty range");
        const char *k;
        json_t *v;
        json_object_foreach(r, k, v) {
            std::string ks(k);
            if (ks != "host" && ks != "port_range" && ks != "port")
                cfg->warnings.push_back(where + " has an unknown key \"" + ks +
                                        "\" (known: host, port_range); ignored");
        }
        for (const auto &o : cfg->resources)
            if (o.host == res.host && res.port_lo <= o.port_hi && o.port_lo <= res.port_hi)
                return c.fail(where + " overlaps another range on host " + res.host);
        cfg->resources.push_back(res);
    }
    if (cfg->resources.empty())
        return c.fail("\"resources\" is empty: no host:port to give to a session");
    return true;
}

// wslink runs the same pattern with Python's re.match: tell the operator
// where it would accept other values than mod_pvlaunch does.
void note_python_differences(const std::string &where, const std::string &pattern,
                             const Regex::PythonDifferences &d, LauncherConfig *cfg) {
    std::string rule = where + ": regexp \"" + pattern + "\" ";
    if (d.prefix_match)
        cfg->warnings.push_back(
            rule + "is not anchored at its end: wslink (Python re.match) accepts any value that "
                   "merely starts with a match, mod_pvlaunch requires the whole value to match "
                   "(end the pattern with $ or \\Z to have both match whole values)");
    if (!d.unicode_escapes.empty())
        cfg->warnings.push_back(rule + "uses " + d.unicode_escapes +
                                ": wslink (Python) matches them against Unicode characters, "
                                "mod_pvlaunch against ASCII only (start the pattern with (?a) to "
                                "have both use ASCII)");
}

bool parse_sanitize(Checker &c, json_t *j, LauncherConfig *cfg) {
    if (!json_is_object(j))
        return c.fail(std::string("sanitize must be an object, not ") + type_name(j));
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        std::string where = std::string("sanitize rule \"") + key + "\"";
        if (!json_is_object(v))
            return c.fail(where + " must be an object, not " + type_name(v));
        SanitizeRule rule;
        std::string type;
        json_t *t = json_object_get(v, "type");
        if (!t)
            return c.fail(where + " has no \"type\" (inList or regexp)");
        if (!get_string(c, t, where + " type", &type))
            return false;
        if (type == "inList") {
            rule.type = SanitizeRule::Type::in_list;
            json_t *l = json_object_get(v, "list");
            if (!l)
                return c.fail(where + " of type inList has no \"list\"");
            if (!get_string_list(c, l, where + " list", &rule.list, false))
                return false;
        } else if (type == "regexp") {
            rule.type = SanitizeRule::Type::regexp;
            json_t *p = json_object_get(v, "regexp");
            if (!p)
                return c.fail(where + " of type regexp has no \"regexp\"");
            if (!get_string(c, p, where + " regexp", &rule.pattern))
                return false;
            auto re = std::make_shared<Regex>();
            std::string error;
            if (!re->compile(rule.pattern, &error))
                return c.fail(where + " regexp \"" + rule.pattern + "\" is invalid: " + error);
            note_python_differences(where, rule.pattern, re->python_differences(), cfg);
            rule.re = std::move(re);
        } else {
            return c.fail(where + " has an unknown type \"" + type +
                          "\" (expected inList or regexp)");
        }
        json_t *d = json_object_get(v, "default");
        if (d) {
            if (!json_scalar_text(d, &rule.default_value))
                return c.fail(where + " default must be a string, not " + type_name(d));
            rule.has_default = true;
        }
        const char *k;
        json_t *kv;
        json_object_foreach(v, k, kv) {
            const std::string ks(k);
            if (ks != "type" && ks != "list" && ks != "regexp" && ks != "default")
                cfg->warnings.push_back(where + " has an unknown key \"" + ks +
                                        "\" (known: type, list, regexp, default); ignored");
        }
        cfg->sanitize.emplace(key, std::move(rule));
    }
    return true;
}

bool parse_properties(Checker &c, json_t *j, LauncherConfig *cfg) {
    if (!json_is_object(j))
        return c.fail(std::string("\"properties\" must be an object, not ") + type_name(j));
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        std::string s;
        if (!json_scalar_text(v, &s))
            return c.fail(std::string("property \"") + key + "\" must be a string or number, not " +
                          type_name(v));
        cfg->properties[key] = s;
    }
    return true;
}

bool set_timeout(Checker &c, json_t *v, LauncherConfig *cfg) {
    double t = 0;
    if (!get_number(c, v, "timeout", &t))
        return false;
    if (!(t > 0) || !std::isfinite(t) || t > 86400)
        return c.fail("timeout must be a number of seconds between 0 and 86400");
    cfg->timeout = t;
    return true;
}

// Keys of the wslink "configuration" object.
bool parse_wslink_configuration(Checker &c, json_t *j, LauncherConfig *cfg) {
    if (!json_is_object(j))
        return c.fail(std::string("\"configuration\" must be an object, not ") + type_name(j));
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        std::string k(key);
        if (k == "sessionURL") {
            if (!get_string(c, v, "configuration.sessionURL", &cfg->session_url))
                return false;
        } else if (k == "log_dir") {
            if (!get_string(c, v, "configuration.log_dir", &cfg->log_dir))
                return false;
        } else if (k == "proxy_file") {
            if (!get_string(c, v, "configuration.proxy_file", &cfg->map_file))
                return false;
        } else if (k == "timeout") {
            if (!set_timeout(c, v, cfg))
                return false;
        } else if (k == "fields") {
            if (!get_string_list(c, v, "configuration.fields", &cfg->fields, false))
                return false;
        } else if (k == "sanitize") {
            if (!parse_sanitize(c, v, cfg))
                return false;
        } else if (k == "max_session_per_user") {
            if (!get_session_count(c, v, "configuration.max_session_per_user",
                                   &cfg->max_session_per_user))
                return false;
        } else if (k == "host" || k == "port" || k == "endpoint" || k == "content" ||
                   k == "upload_dir" || k == "proxy_file_type") {
            cfg->notices.push_back("configuration." + k +
                                   " is for a standalone launcher; ignored inside Apache");
        } else {
            cfg->warnings.push_back("configuration has an unknown key \"" + k + "\"; ignored");
        }
    }
    return true;
}

} // namespace

bool valid_host(const std::string &host) {
    if (host.empty() || host.size() > 100)
        return false;
    for (char ch : host)
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-'))
            return false;
    return true;
}

std::string strip_comments(const std::string &text) {
    std::string out;
    out.reserve(text.size());
    size_t i = 0, n = text.size();
    while (i < n) {
        char ch = text[i];
        if (ch == '"') {
            size_t j = i + 1;
            while (j < n && text[j] != '"') {
                if (text[j] == '\\' && j + 1 < n)
                    ++j;
                if (text[j] == '\n')
                    break; // unterminated: let the JSON parser report it
                ++j;
            }
            if (j < n && text[j] == '"')
                ++j;
            out.append(text, i, j - i);
            i = j;
        } else if (ch == '#' || (ch == '/' && i + 1 < n && text[i + 1] == '/')) {
            while (i < n && text[i] != '\n')
                ++i;
        } else if (ch == '/' && i + 1 < n && text[i + 1] == '*') {
            size_t end = text.find("*/", i + 2);
            size_t stop = end == std::string::npos ? n : end + 2;
            // Spaces keep the parser's columns right on the comment's lines.
            for (size_t k = i; k < stop; ++k)
                out.push_back(text[k] == '\n' ? '\n' : ' ');
            i = stop;
        } else {
            out.push_back(ch);
            ++i;
        }
    }
    return out;
}

bool parse_launcher_config(const std::string &text, const std::string &file, LauncherConfig *out,
                           std::string *error) {
    Checker c(file);
    LauncherConfig cfg;
    cfg.file = file;
    std::string clean = strip_comments(text);
    json_error_t jerr;
    JsonPtr root(json_loadb(clean.data(), clean.size(), JSON_REJECT_DUPLICATES, &jerr));
    if (!root) {
        *error = file + ": line " + std::to_string(jerr.line) + ", column " +
                 std::to_string(jerr.column) + ": " + jerr.text;
        return false;
    }
    if (!json_is_object(root.get())) {
        *error = file + ": the launcher config must be a JSON object";
        return false;
    }
    json_t *apps = json_object_get(root.get(), "apps");
    json_t *applications = json_object_get(root.get(), "applications");
    if (apps && applications)
        c.fail("both \"apps\" and \"applications\" are given; use one");

    const char *key;
    json_t *v;
    json_object_foreach(root.get(), key, v) {
        if (!c.ok())
            break;
        std::string k(key);
        if (k == "configuration") {
            parse_wslink_configuration(c, v, &cfg);
        } else if (k == "apps" || k == "applications") {
            parse_apps(c, v, key, &cfg);
        } else if (k == "resources") {
            parse_resources(c, v, &cfg);
        } else if (k == "properties") {
            parse_properties(c, v, &cfg);
        } else if (k == "slurm") {
            parse_slurm_settings(c, v, &cfg);
        } else if (k == "sessionData") {
            if (!json_is_object(v))
                c.fail(std::string("\"sessionData\" must be an object, not ") + type_name(v));
            else
                cfg.session_data = json_ref(v);
        } else if (k == "log") {
            get_string(c, v, "log", &cfg.log_dir);
        } else if (k == "map_file") {
            get_string(c, v, "map_file", &cfg.map_file);
        } else if (k == "proxy_url") {
            get_string(c, v, "proxy_url", &cfg.session_url);
        } else if (k == "wait_line") {
            get_ready_lines(c, v, "wait_line", &cfg.ready_lines);
        } else if (k == "timeout") {
            set_timeout(c, v, &cfg);
        } else if (k == "max_session") {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000)
                c.fail("max_session must be a non-negative integer");
            else
                cfg.max_session = static_cast<int>(json_integer_value(v));
        } else if (k == "max_session_per_user") {
            get_session_count(c, v, "max_session_per_user", &cfg.max_session_per_user);
        } else if (k == "url") {
            cfg.notices.push_back(
                "url is for a standalone launcher; the endpoint is the <Location> of "
                "SetHandler pvlaunch");
        } else {
            cfg.warnings.push_back("unknown top-level key \"" + k + "\"; ignored");
        }
    }
    if (c.ok() && cfg.apps.empty())
        c.fail("no application defined (\"apps\" or \"applications\")");
    // Slurm apps get their host and port from Slurm.
    if (c.ok() && cfg.resources.empty() && cfg.has_local_apps())
        c.fail("no \"resources\": give at least one {\"host\", \"port_range\"}");
    for (const auto &kv : cfg.apps)
        if (c.ok() && kv.second.slurm && kv.second.limits.any())
            c.fail("application \"" + kv.first +
                   "\" has both \"slurm\" and \"limits\": a job's limits are sbatch "
                   "options (--mem, --cpus-per-task, --time)");
    if (c.ok() && cfg.session_url.empty())
        c.fail("no session URL: set configuration.sessionURL (or proxy_url), e.g. "
               "\"ws://${host}/proxy?sessionId=${id}\"");
    if (!c.ok()) {
        *error = c.error();
        return false;
    }
    *out = std::move(cfg);
    return true;
}

bool load_launcher_config(const std::string &path, LauncherConfig *out, std::string *error) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
        close(fd);
        *error = path + ": cannot read the launcher config: not a regular file";
        return false;
    }
    std::string text;
    char buf[65536];
    ssize_t n = 0;
    while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0)
        text.append(buf, static_cast<size_t>(n));
    if (fd < 0 || n < 0) {
        *error = path + ": cannot read the launcher config: " + std::strerror(errno);
        if (fd >= 0)
            close(fd);
        return false;
    }
    close(fd);
    if (!parse_launcher_config(text, path, out, error))
        return false;
    out->source = std::move(text);
    const size_t slash = path.rfind('/');
    out->dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    return true;
}

} // namespace pvl
