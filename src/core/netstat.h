// Which local TCP ports have an established connection, from the text of
// /proc/net/tcp or /proc/net/tcp6: the idle limit watches a session's port
// for client connections (Apache's proxy to the app) instead of guessing.
#pragma once
#include <set>
#include <string>

namespace pvl {

// Adds to *ports the local port of every ESTABLISHED socket listed in
// `text` (the kernel's format: a header line, then "sl local rem st ...").
// Lines that do not parse are skipped.
void established_local_ports(const std::string &text, std::set<int> *ports);

} // namespace pvl
