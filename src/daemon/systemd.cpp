#include "systemd.h"

#include "../core/log.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

namespace pvl {
namespace {

const char *const destination = "org.freedesktop.systemd1";
const char *const manager_path = "/org/freedesktop/systemd1";
const char *const manager = "org.freedesktop.systemd1.Manager";

// Owns what sd-bus hands out, whatever path a function leaves by.
struct Call {
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message *message = nullptr;
    sd_bus_message *reply = nullptr;
    ~Call() {
        sd_bus_error_free(&error);
        sd_bus_message_unref(message);
        sd_bus_message_unref(reply);
    }
    std::string why(int r) const {
        if (error.message)
            return error.message;
        return std::strerror(-r);
    }
};

struct BusRef {
    sd_bus *bus = nullptr;
    ~BusRef() { sd_bus_flush_close_unref(bus); }
};

// Appends ("name", variant of type t) to an open a(sv).
int append_u64(sd_bus_message *m, const char *name, unsigned long long v) {
    return sd_bus_message_append(m, "(sv)", name, "t", static_cast<uint64_t>(v));
}

int append_string(sd_bus_message *m, const char *name, const std::string &v) {
    return sd_bus_message_append(m, "(sv)", name, "s", v.c_str());
}

class ScopedBackend : public Backend {
  public:
    explicit ScopedBackend(std::unique_ptr<Backend> inner) : inner_(std::move(inner)) {}

    bool start(const SpawnSpec &spec, AppRef *app, std::string *error) override {
        if (!inner_->start(spec, app, error))
            return false;
        std::string why, unit;
        if (place(app->pid, spec, &unit, &why)) {
            units_[app->pid] = unit;
            return true;
        }
        if (spec.limits.any()) {
            inner_->kill_now(*app);
            *error = "systemd could not give it a scope unit with its limits: " + why;
            return false;
        }
        if (!warned_)
            log(LogLevel::warning, "PVL00056",
                "application " + spec.name + " (pid " + std::to_string(app->pid) +
                    ") stays in Apache's cgroup, where systemctl restart apache2 would kill it: " +
                    why + " (said once; later apps may share its fate)");
        warned_ = true;
        return true;
    }
    bool signal(const AppRef &app, int sig) override { return inner_->signal(app, sig); }
    bool adopt(const AppRef &app) override {
        if (!inner_->adopt(app))
            return false;
        const std::string unit = scope_of(app.pid);
        if (!unit.empty())
            units_[app.pid] = unit;
        return true;
    }
    void add_pollfds(std::vector<pollfd> *fds) const override { inner_->add_pollfds(fds); }
    // An app that ended takes its scope with it: whatever it left there
    // (a helper that left its process group, too) is stopped.
    void collect_exits(const pollfd *fds, size_t n, std::vector<AppExit> *out) override {
        const size_t before = out->size();
        inner_->collect_exits(fds, n, out);
        for (size_t i = before; i < out->size(); ++i)
            stop_scope((*out)[i].pid);
    }
    void kill_now(const AppRef &app) override {
        inner_->kill_now(app);
        stop_scope(app.pid);
    }

  private:
    // The scope unit a live process is in, if it is one of ours.
    static std::string scope_of(pid_t pid) {
        char path[64];
        std::snprintf(path, sizeof path, "/proc/%d/cgroup", static_cast<int>(pid));
        FILE *f = std::fopen(path, "re");
        if (!f)
            return std::string();
        char line[4096];
        std::string unit;
        while (std::fgets(line, sizeof line, f)) {
            if (std::strncmp(line, "0::", 3) != 0)
                continue;
            std::string cg(line + 3);
            while (!cg.empty() && cg.back() == '\n')
                cg.pop_back();
            const std::string name = cg.substr(cg.rfind('/') + 1);
            if (name.compare(0, 9, "pvlaunch-") == 0 && name.size() > 15 &&
                name.compare(name.size() - 6, 6, ".scope") == 0)
                unit = name;
        }
        std::fclose(f);
        return unit;
    }

    // StopUnit, without waiting for systemd's answer (nothing depends on it,
    // and the daemon's loop must not wait).
    void stop_scope(pid_t pid) {
        auto it = units_.find(pid);
        if (it == units_.end())
            return;
        const std::string unit = it->second;
        units_.erase(it);
        std::string ignored;
        sd_bus *b = bus(&ignored);
        if (!b)
            return;
        Call c;
        if (sd_bus_message_new_method_call(b, &c.message, destination, manager_path, manager,
                                           "StopUnit") < 0 ||
            sd_bus_message_append(c.message, "ss", unit.c_str(), "replace") < 0 ||
            sd_bus_message_set_expect_reply(c.message, 0) < 0 ||
            sd_bus_send(b, c.message, nullptr) < 0)
            return;
        sd_bus_flush(b);
    }

    sd_bus *bus(std::string *error) {
        if (bus_.bus && sd_bus_is_open(bus_.bus) > 0)
            return bus_.bus;
        sd_bus_flush_close_unref(bus_.bus);
        bus_.bus = nullptr;
        const int r = sd_bus_open_system(&bus_.bus);
        if (r < 0) {
            *error = std::string("cannot connect to the system bus: ") + std::strerror(-r);
            bus_.bus = nullptr;
        }
        return bus_.bus;
    }

    // StartTransientUnit of a scope holding `pid`. The name has the pid: a
    // scope ends once empty, so only a scope that outlived its first
    // process (a child of the app still runs) can hold it; then a suffix.
    bool place(pid_t pid, const SpawnSpec &spec, std::string *unit_out, std::string *error) {
        sd_bus *b = bus(error);
        if (!b)
            return false;
        for (int attempt = 0; attempt < 4; ++attempt) {
            std::string unit = "pvlaunch-" + std::to_string(pid);
            if (attempt > 0)
                unit += "-" + std::to_string(attempt);
            unit += ".scope";
            Call c;
            int r = sd_bus_message_new_method_call(b, &c.message, destination, manager_path,
                                                   manager, "StartTransientUnit");
            if (r >= 0)
                r = sd_bus_message_append(c.message, "ss", unit.c_str(), "fail");
            if (r >= 0)
                r = sd_bus_message_open_container(c.message, 'a', "(sv)");
            if (r >= 0)
                r = append_string(c.message, "Description", "mod_pvlaunch session of " + spec.name);
            if (r >= 0)
                r = append_string(c.message, "Slice", "pvlaunch.slice");
            if (r >= 0)
                r = sd_bus_message_append(c.message, "(sv)", "PIDs", "au", 1,
                                          static_cast<uint32_t>(pid));
            // Gone from systemd's memory once it ends, even if it failed.
            if (r >= 0)
                r = append_string(c.message, "CollectMode", "inactive-or-failed");
            if (r >= 0 && spec.limits.memory)
                r = append_u64(c.message, "MemoryMax", spec.limits.memory);
            if (r >= 0 && spec.limits.cpu_percent)
                r = append_u64(c.message, "CPUQuotaPerSecUSec", spec.limits.cpu_percent * 10000);
            if (r >= 0 && spec.limits.tasks)
                r = append_u64(c.message, "TasksMax", spec.limits.tasks);
            if (r >= 0)
                r = sd_bus_message_close_container(c.message);
            if (r >= 0)
                r = sd_bus_message_append(c.message, "a(sa(sv))", 0);
            if (r >= 0)
                r = sd_bus_call(b, c.message, 5 * 1000000ULL, &c.error, &c.reply);
            if (r >= 0) {
                *unit_out = unit;
                return true;
            }
            if (sd_bus_error_has_name(&c.error, "org.freedesktop.systemd1.UnitExists"))
                continue;
            *error = c.why(r);
            return false;
        }
        *error = "every scope name for pid " + std::to_string(pid) + " is taken";
        return false;
    }

    std::unique_ptr<Backend> inner_;
    BusRef bus_;
    bool warned_ = false;
    std::map<pid_t, std::string> units_; // app -> its scope unit
};

} // namespace

bool systemd_running() {
    return sd_booted() > 0;
}

std::string systemd_job_of(pid_t pid) {
    BusRef b;
    if (sd_bus_open_system(&b.bus) < 0)
        return std::string();
    std::string unit, job;
    {
        Call c;
        const char *path = nullptr;
        if (sd_bus_call_method(b.bus, destination, manager_path, manager, "GetUnitByPID", &c.error,
                               &c.reply, "u", static_cast<uint32_t>(pid)) < 0 ||
            sd_bus_message_read(c.reply, "o", &path) < 0 || !path)
            return std::string();
        unit = path;
    }
    {
        Call c;
        uint32_t id = 0;
        const char *path = nullptr;
        if (sd_bus_get_property(b.bus, destination, unit.c_str(), "org.freedesktop.systemd1.Unit",
                                "Job", &c.error, &c.reply, "(uo)") < 0 ||
            sd_bus_message_read(c.reply, "(uo)", &id, &path) < 0 || id == 0 || !path)
            return std::string();
        job = path;
    }
    Call c;
    char *type = nullptr;
    if (sd_bus_get_property_string(b.bus, destination, job.c_str(), "org.freedesktop.systemd1.Job",
                                   "JobType", &c.error, &type) < 0 ||
        !type)
        return std::string();
    std::string out(type);
    std::free(type);
    return out;
}

bool systemd_job_restarts(const std::string &type) {
    return type == "restart" || type == "try-restart" || type == "reload-or-restart";
}

std::unique_ptr<Backend> make_scoped_backend(std::unique_ptr<Backend> inner) {
    return std::make_unique<ScopedBackend>(std::move(inner));
}

} // namespace pvl
