#include "port_pool.h"

#include <algorithm>

namespace pvl {

PortPool::PortPool(const std::vector<Resource> &resources) : resources_(resources) {
    size_t total = 0;
    for (const auto &r : resources_) {
        base_.push_back(total);
        total += static_cast<size_t>(r.port_hi - r.port_lo + 1);
    }
    taken_.assign(total, false);
    for (size_t i = 0; i < total; ++i)
        free_.push_back(i);
}

long PortPool::index_of(const std::string &host, int port) const {
    for (size_t i = 0; i < resources_.size(); ++i) {
        const Resource &r = resources_[i];
        if (r.host == host && port >= r.port_lo && port <= r.port_hi)
            return static_cast<long>(base_[i] + static_cast<size_t>(port - r.port_lo));
    }
    return -1;
}

void PortPool::at(size_t index, std::string *host, int *port) const {
    size_t i = resources_.size() - 1;
    while (base_[i] > index)
        --i;
    *host = resources_[i].host;
    *port = resources_[i].port_lo + static_cast<int>(index - base_[i]);
}

bool PortPool::take(std::string *host, int *port,
                    const std::function<bool(const std::string &, int)> &usable) {
    for (auto it = free_.begin(); it != free_.end(); ++it) {
        std::string h;
        int p;
        at(*it, &h, &p);
        if (usable && !usable(h, p))
            continue; // held by another program: keep its place in the queue
        taken_[*it] = true;
        free_.erase(it);
        *host = h;
        *port = p;
        return true;
    }
    return false;
}

bool PortPool::take_specific(const std::string &host, int port) {
    long idx = index_of(host, port);
    if (idx < 0 || taken_[static_cast<size_t>(idx)])
        return false;
    taken_[static_cast<size_t>(idx)] = true;
    free_.erase(std::find(free_.begin(), free_.end(), static_cast<size_t>(idx)));
    return true;
}

bool PortPool::release(const std::string &host, int port) {
    long idx = index_of(host, port);
    if (idx < 0 || !taken_[static_cast<size_t>(idx)])
        return false;
    taken_[static_cast<size_t>(idx)] = false;
    free_.push_back(static_cast<size_t>(idx));
    return true;
}

bool PortPool::is_taken(const std::string &host, int port) const {
    long idx = index_of(host, port);
    return idx >= 0 && taken_[static_cast<size_t>(idx)];
}

} // namespace pvl
