// systemd, where it runs the machine. A restart of apache2.service empties
// the service's cgroup (KillMode=mixed), so each app goes into a transient
// scope unit of its own, in pvlaunch.slice, through systemd's D-Bus API;
// its limits (launcher config "limits") are that unit's properties. And
// Apache's parent asks which job systemd runs on its unit when it stops: a
// restart hands the sessions over instead of stopping them.
//
// Only root may create units (a non-root caller gets "Interactive
// authentication required"): the session daemon keeps root for this, as it
// does to start apps as their user. See SECURITY.md.
#pragma once
#include "backend.h"

#include <memory>
#include <string>
#include <sys/types.h>

namespace pvl {

// systemd is the machine's init (sd_booted).
bool systemd_running();

// The type of the job systemd is running on the unit of process `pid`
// ("restart", "stop", ...); empty when there is none or systemd cannot be
// asked.
std::string systemd_job_of(pid_t pid);

// True for a job type that starts the unit again after stopping it.
bool systemd_job_restarts(const std::string &type);

// Wraps a backend: each app `inner` starts is moved into
// "pvlaunch-<pid>.scope" in pvlaunch.slice, with the app's limits. An app
// with limits whose scope cannot be made is stopped again (the launch
// fails); one without limits runs on where it is, with a warning.
std::unique_ptr<Backend> make_scoped_backend(std::unique_ptr<Backend> inner);

} // namespace pvl
