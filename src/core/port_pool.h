// The pool of host:port pairs from the config's "resources". Free ports
// wait in a queue: a port just freed is the last to be reused (its old
// connections may still be closing).
#pragma once
#include "config.h"

#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace pvl {

class PortPool {
  public:
    explicit PortPool(const std::vector<Resource> &resources);

    // Takes the next free pair for which `usable` (if given) says yes.
    bool take(std::string *host, int *port,
              const std::function<bool(const std::string &, int)> &usable = nullptr);
    // Marks a specific pair taken (re-adoption); false if unknown or taken.
    bool take_specific(const std::string &host, int port);
    // False if the pair is not in the pool or was not taken.
    bool release(const std::string &host, int port);
    bool contains(const std::string &host, int port) const { return index_of(host, port) >= 0; }
    bool is_taken(const std::string &host, int port) const;
    // Position of a pair in the pool (0..size-1), or -1.
    long index_of(const std::string &host, int port) const;
    size_t size() const { return taken_.size(); }
    size_t free_count() const { return free_.size(); }

  private:
    void at(size_t index, std::string *host, int *port) const;

    std::vector<Resource> resources_;
    std::vector<size_t> base_; // index of each resource's first port
    std::vector<bool> taken_;
    std::deque<size_t> free_; // oldest freed first
};

} // namespace pvl
