// The session table as Apache's children see it: a read-only shared mapping
// that the session daemon (the only writer) keeps up to date, so that GET
// and the int:pvsession RewriteMap need no round trip to the daemon.
//
// Layout: a header, an open-addressing hash table of slots keyed by session
// id, then one body block per port of the pool (a live session holds exactly
// one port, so its port index names its block), then one owner block per
// port. One sequence counter guards
// the whole mapping (a seqlock): the writer makes it odd while it changes
// anything, readers retry when it moved under them. Writes are rare (a
// launch, a stop), reads are every GET and every websocket connect.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pvl {

class SharedTable {
  public:
    // Longer ids (valid in a URL, never generated) are simply not found.
    static constexpr size_t max_id = 32;
    // host (at most 100 characters, see valid_host) + ":" + port
    static constexpr size_t max_route = 111;
    // A session's owner (Apache's r->user); a longer name cannot own one.
    static constexpr size_t max_owner = 255;
    // GET bodies up to this size are served from the table.
    static constexpr uint32_t default_body_size = 2048;

    // Bytes a mapping needs for `ports` ports with bodies of up to
    // `body_size` bytes.
    static size_t bytes_needed(uint32_t ports, uint32_t body_size);

    SharedTable() = default;
    // Formats `mem` (writer side). False if `len` is too small.
    bool format(void *mem, size_t len, uint32_t ports, uint32_t body_size);
    // Attaches to a formatted mapping (reader or writer). False if `mem`
    // does not hold a table of this version.
    bool attach(void *mem, size_t len);
    bool attached() const { return header_ != nullptr; }

    // Writer. `port_index` names the body block. A body larger than a block
    // is not stored, nor one the daemon must render itself (store_body
    // false): readers are told to ask the daemon.
    bool put(const std::string &id, int launcher, const std::string &route, uint32_t port_index,
             const std::string &body, bool store_body = true,
             const std::string &owner = std::string());
    bool erase(const std::string &id);
    // Ids present (writer side: a new daemon reconciles its predecessor's
    // entries with what it re-adopted).
    std::vector<std::string> ids() const;
    uint32_t size() const;

    // Writer: how many resources GET can find only at the daemon (queued or
    // ended launches, which have no slot). Reader: whether an id absent
    // from the table is worth asking the daemon about; when nothing lives
    // only there, an unknown id is a 404 without a round trip.
    void set_elsewhere(uint32_t n);
    bool has_elsewhere() const;

    enum class Lookup { absent, found, body_elsewhere };
    // Reader. `route` gets "host:port" of a routable session, `owner` (if
    // given) its owner ("" for nobody).
    Lookup route(const char *id, size_t len, std::string *route,
                 std::string *owner = nullptr) const;
    // Reader. The GET body of a session of `launcher`, and its owner.
    Lookup body(const char *id, size_t len, int launcher, std::string *body,
                std::string *owner = nullptr) const;

  private:
    struct Header;
    struct Slot;
    uint32_t home(const char *id, size_t len) const;
    // Index of the slot holding id, or -1; call inside a read section.
    long find(const char *id, size_t len) const;
    void begin_write();
    void end_write();
    template <class F> Lookup read(const char *id, size_t len, F &&copy) const;
    void read_owner(const Slot &s, std::string *owner) const;

    Header *header_ = nullptr;
    Slot *slots_ = nullptr;
    char *bodies_ = nullptr;
    char *owners_ = nullptr;
};

} // namespace pvl
