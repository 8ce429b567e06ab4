#include "netstat.h"

#include <cstdlib>
#include <sstream>

namespace pvl {

void established_local_ports(const std::string &text, std::set<int> *ports) {
    std::istringstream in(text);
    std::string line;
    std::getline(in, line); // header
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string slot, local, remote, state;
        if (!(fields >> slot >> local >> remote >> state))
            continue;
        if (state != "01") // TCP_ESTABLISHED
            continue;
        size_t colon = local.rfind(':');
        if (colon == std::string::npos || colon + 1 >= local.size())
            continue;
        char *end = nullptr;
        long port = std::strtol(local.c_str() + colon + 1, &end, 16);
        if (*end == '\0' && port > 0 && port < 65536)
            ports->insert(static_cast<int>(port));
    }
}

} // namespace pvl
