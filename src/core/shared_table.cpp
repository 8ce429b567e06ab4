#include "shared_table.h"

#include <cstring>
#include <new>

namespace pvl {

struct SharedTable::Header {
    char magic[8];
    uint32_t version;
    uint32_t capacity; // slots: 1.5 per port, so probe chains stay short
    uint32_t ports;    // body blocks
    uint32_t body_size;
    uint32_t count;
    std::atomic<uint32_t> elsewhere; // see set_elsewhere()
    std::atomic<uint64_t> seq;
};

struct SharedTable::Slot {
    char id[max_id + 1];
    uint8_t used;
    int16_t launcher;
    uint32_t port_index;
    uint32_t body_len; // UINT32_MAX: not stored, ask the daemon
    char route[max_route + 1];
};

namespace {

constexpr char magic[8] = {'p', 'v', 'l', 't', 'a', 'b', 'l', 'e'};
constexpr uint32_t version = 4; // 4: an owner block per port
constexpr uint32_t not_stored = UINT32_MAX;
constexpr int max_read_attempts = 1000;

size_t align64(size_t n) {
    return (n + 63) & ~static_cast<size_t>(63);
}

uint32_t capacity_for(uint32_t ports) {
    return ports + ports / 2 + 16;
}

} // namespace

// Owners live beside the bodies, one block per port, not in the slots:
// probing for an id (every route lookup) stays within small slots.
constexpr size_t owner_block = SharedTable::max_owner + 1;

size_t SharedTable::bytes_needed(uint32_t ports, uint32_t body_size) {
    return align64(sizeof(Header)) + align64(sizeof(Slot) * capacity_for(ports)) +
           static_cast<size_t>(ports) * (body_size + owner_block);
}

bool SharedTable::format(void *mem, size_t len, uint32_t ports, uint32_t body_size) {
    if (len < bytes_needed(ports, body_size))
        return false;
    std::memset(mem, 0, align64(sizeof(Header)) + align64(sizeof(Slot) * capacity_for(ports)));
    auto *h = new (mem) Header();
    std::memcpy(h->magic, magic, sizeof magic);
    h->version = version;
    h->capacity = capacity_for(ports);
    h->ports = ports;
    h->body_size = body_size;
    h->count = 0;
    h->seq.store(0, std::memory_order_release);
    return attach(mem, len);
}

bool SharedTable::attach(void *mem, size_t len) {
    auto *h = static_cast<Header *>(mem);
    if (len < sizeof(Header) || std::memcmp(h->magic, magic, sizeof magic) != 0 ||
        h->version != version || len < bytes_needed(h->ports, h->body_size))
        return false;
    header_ = h;
    slots_ = reinterpret_cast<Slot *>(static_cast<char *>(mem) + align64(sizeof(Header)));
    bodies_ = reinterpret_cast<char *>(slots_) + align64(sizeof(Slot) * h->capacity);
    owners_ = bodies_ + static_cast<size_t>(h->ports) * h->body_size;
    return true;
}

uint32_t SharedTable::home(const char *id, size_t len) const {
    uint32_t h = 2166136261u; // FNV-1a
    for (size_t i = 0; i < len; ++i) {
        h ^= static_cast<unsigned char>(id[i]);
        h *= 16777619u;
    }
    return h % header_->capacity;
}

long SharedTable::find(const char *id, size_t len) const {
    if (len == 0 || len > max_id)
        return -1;
    const uint32_t cap = header_->capacity;
    for (uint32_t i = home(id, len), n = 0; n < cap; i = (i + 1) % cap, ++n) {
        const Slot &s = slots_[i];
        if (!s.used)
            return -1;
        if (std::strncmp(s.id, id, len) == 0 && s.id[len] == '\0')
            return static_cast<long>(i);
    }
    return -1;
}

void SharedTable::set_elsewhere(uint32_t n) {
    if (header_)
        header_->elsewhere.store(n, std::memory_order_release);
}

bool SharedTable::has_elsewhere() const {
    return header_ && header_->elsewhere.load(std::memory_order_acquire) > 0;
}

void SharedTable::begin_write() {
    header_->seq.fetch_add(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
}

void SharedTable::end_write() {
    header_->seq.fetch_add(1, std::memory_order_release);
}

bool SharedTable::put(const std::string &id, int launcher, const std::string &route,
                      uint32_t port_index, const std::string &body, bool store_body,
                      const std::string &owner) {
    if (!header_ || id.empty() || id.size() > max_id || route.size() > max_route ||
        owner.size() > max_owner || owner.find('\0') != std::string::npos ||
        port_index >= header_->ports || find(id.data(), id.size()) >= 0 ||
        header_->count >= header_->ports)
        return false;
    const uint32_t cap = header_->capacity;
    uint32_t i = home(id.data(), id.size());
    while (slots_[i].used)
        i = (i + 1) % cap;
    begin_write();
    Slot &s = slots_[i];
    std::memset(&s, 0, sizeof s);
    std::memcpy(s.id, id.data(), id.size());
    std::memcpy(s.route, route.data(), route.size());
    char *owner_at = owners_ + static_cast<size_t>(port_index) * owner_block;
    std::memset(owner_at, 0, owner_block);
    std::memcpy(owner_at, owner.data(), owner.size());
    s.launcher = static_cast<int16_t>(launcher);
    s.port_index = port_index;
    if (store_body && body.size() <= header_->body_size) {
        std::memcpy(bodies_ + static_cast<size_t>(port_index) * header_->body_size, body.data(),
                    body.size());
        s.body_len = static_cast<uint32_t>(body.size());
    } else {
        s.body_len = not_stored;
    }
    s.used = 1;
    ++header_->count;
    end_write();
    return true;
}

bool SharedTable::erase(const std::string &id) {
    if (!header_)
        return false;
    long found = find(id.data(), id.size());
    if (found < 0)
        return false;
    const uint32_t cap = header_->capacity;
    begin_write();
    // Backward-shift deletion keeps every probe chain unbroken without
    // tombstones; readers racing with it retry on the sequence counter.
    uint32_t hole = static_cast<uint32_t>(found);
    for (uint32_t j = (hole + 1) % cap; slots_[j].used; j = (j + 1) % cap) {
        uint32_t want = home(slots_[j].id, std::strlen(slots_[j].id));
        // Move j into the hole unless its home lies cyclically in (hole, j].
        bool stays = hole <= j ? (hole < want && want <= j) : (hole < want || want <= j);
        if (!stays) {
            slots_[hole] = slots_[j];
            hole = j;
        }
    }
    std::memset(&slots_[hole], 0, sizeof(Slot));
    --header_->count;
    end_write();
    return true;
}

std::vector<std::string> SharedTable::ids() const {
    std::vector<std::string> out;
    for (uint32_t i = 0; header_ && i < header_->capacity; ++i)
        if (slots_[i].used)
            out.emplace_back(slots_[i].id, strnlen(slots_[i].id, max_id));
    return out;
}

uint32_t SharedTable::size() const {
    return header_ ? header_->count : 0;
}

template <class F>
SharedTable::Lookup SharedTable::read(const char *id, size_t len, F &&copy) const {
    if (!header_)
        return Lookup::absent;
    for (int attempt = 0; attempt < max_read_attempts; ++attempt) {
        uint64_t before = header_->seq.load(std::memory_order_acquire);
        if (before & 1)
            continue;
        long i = find(id, len);
        Lookup result = i < 0 ? Lookup::absent : copy(slots_[i]);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (header_->seq.load(std::memory_order_relaxed) == before)
            return result;
    }
    return Lookup::body_elsewhere; // the writer is busy: let the daemon answer
}

void SharedTable::read_owner(const Slot &s, std::string *owner) const {
    // A torn port index (a racing writer) is bounded here; the sequence
    // check then discards the read.
    if (s.port_index >= header_->ports) {
        owner->clear();
        return;
    }
    const char *at = owners_ + static_cast<size_t>(s.port_index) * owner_block;
    owner->assign(at, strnlen(at, max_owner));
}

SharedTable::Lookup SharedTable::route(const char *id, size_t len, std::string *route,
                                       std::string *owner) const {
    return read(id, len, [&](const Slot &s) {
        route->assign(s.route, strnlen(s.route, max_route));
        if (owner)
            read_owner(s, owner);
        return Lookup::found;
    });
}

SharedTable::Lookup SharedTable::body(const char *id, size_t len, int launcher, std::string *body,
                                      std::string *owner) const {
    return read(id, len, [&](const Slot &s) {
        if (s.launcher != launcher)
            return Lookup::absent;
        if (owner)
            read_owner(s, owner);
        // A racing writer can show torn values: bound them before use (the
        // sequence check then discards this read).
        uint32_t n = s.body_len;
        if (n == not_stored || n > header_->body_size || s.port_index >= header_->ports)
            return Lookup::body_elsewhere;
        body->assign(bodies_ + static_cast<size_t>(s.port_index) * header_->body_size, n);
        return Lookup::found;
    });
}

} // namespace pvl
