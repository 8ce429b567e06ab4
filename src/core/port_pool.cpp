#include "port_pool.h"

namespace pvl {

PortPool::PortPool(const std::vector<Resource> &resources) : resources_(resources) {
    size_t total = 0;
    for (const auto &r : resources_) {
        base_.push_back(total);
        total += static_cast<size_t>(r.port_hi - r.port_lo + 1);
    }
    taken_.assign(total, false);
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
    const size_t n = taken_.size();
    for (size_t step = 0; step < n && used_ < n; ++step) {
        size_t idx = (cursor_ + step) % n;
        if (taken_[idx])
            continue;
        std::string h;
        int p;
        at(idx, &h, &p);
        if (usable && !usable(h, p))
            continue;
        taken_[idx] = true;
        ++used_;
        cursor_ = (idx + 1) % n;
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
    ++used_;
    return true;
}

bool PortPool::release(const std::string &host, int port) {
    long idx = index_of(host, port);
    if (idx < 0 || !taken_[static_cast<size_t>(idx)])
        return false;
    taken_[static_cast<size_t>(idx)] = false;
    --used_;
    return true;
}

bool PortPool::is_taken(const std::string &host, int port) const {
    long idx = index_of(host, port);
    return idx >= 0 && taken_[static_cast<size_t>(idx)];
}

} // namespace pvl
