#include "notifier.h"

#include "../core/log.h"
#include "../core/url.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>

namespace pvl {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double max_retry_delay = 60.0;

// curl_global_init is not thread-safe with every TLS backend; the daemon is
// single-threaded, and the first Notifier is made before any transfer (and
// so any resolver thread) exists.
bool curl_ready() {
    static const bool ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    return ok;
}

std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g s", s);
    return buf;
}

int ms_until(Clock::time_point when, Clock::time_point now) {
    if (when <= now)
        return 0;
    // Rounded up: waking a little early would only make the loop spin until
    // the deadline.
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(when - now).count();
    return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

// The answer's body is of no use, and libcurl would write it to stdout.
size_t discard(char *, size_t size, size_t nmemb, void *) {
    return size * nmemb;
}

bool has_control_chars(const std::string &s) {
    return std::any_of(s.begin(), s.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

} // namespace

struct Notifier::Impl {
    struct Item {
        std::string url;     // as libcurl gets it
        std::string log_url; // scheme://host:port/path: no credentials, query or fragment
        std::string body;
        curl_slist *headers = nullptr;
        int tries = 0; // started so far
        Clock::time_point due;
        CURL *easy = nullptr; // while a try is in flight
        char errbuf[CURL_ERROR_SIZE];

        Item() = default;
        Item(const Item &) = delete;
        Item &operator=(const Item &) = delete;
        ~Item() { curl_slist_free_all(headers); }
    };
    struct Socket {
        short events;
        uint64_t generation; // tells a reused descriptor number from the one that was polled
    };
    struct Fired {
        int fd;
        int mask;
        uint64_t generation;
    };

    explicit Impl(NotifierOptions o);
    ~Impl();

    static int socket_cb(CURL *, curl_socket_t s, int what, void *userp, void *);
    static int timer_cb(CURLM *, long timeout_ms, void *userp);

    void act(curl_socket_t s, int mask);
    void run_timer_if_due();
    void collect_done();
    void start_due();
    void start_try(uint64_t id, Item &item);
    void end_try(Item &item);
    void try_failed(uint64_t id, Item &item, const std::string &reason);
    void abort_in_flight(const std::string &why);

    NotifierOptions opts;
    CURLM *multi = nullptr;
    // Keyed by arrival, so that iterating serves the oldest first.
    std::map<uint64_t, Item> items;
    uint64_t next_id = 0;
    size_t in_flight = 0;
    std::map<int, Socket> sockets;
    uint64_t socket_generation = 0;
    bool timer_armed = false;
    Clock::time_point timer_due;
    std::vector<Fired> fired; // kept to spare an allocation per poll
    size_t delivered = 0;
    size_t failed = 0;
};

Notifier::Impl::Impl(NotifierOptions o) : opts(o) {
    if (opts.attempts < 1)
        opts.attempts = 1;
    if (!(opts.first_retry_delay >= 0.0)) // NaN too
        opts.first_retry_delay = 0.0;
    opts.first_retry_delay = std::min(opts.first_retry_delay, max_retry_delay);
    // libcurl takes 0 as "no timeout", and a hung receiver must not keep a
    // try (and a descriptor) forever.
    if (!(opts.attempt_timeout > 0.0))
        opts.attempt_timeout = NotifierOptions().attempt_timeout;
    opts.attempt_timeout = std::min(opts.attempt_timeout, 86400.0);
    if (opts.max_parallel < 1)
        opts.max_parallel = 1;
    if (!curl_ready())
        return;
    multi = curl_multi_init();
    if (!multi)
        return;
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
}

Notifier::Impl::~Impl() {
    if (!items.empty())
        log(LogLevel::notice, "PVL00065",
            std::to_string(items.size()) +
                " status notification(s) not delivered: the notifier is shutting down");
    for (auto &kv : items)
        if (kv.second.easy)
            end_try(kv.second);
    items.clear();
    if (multi)
        curl_multi_cleanup(multi);
}

int Notifier::Impl::socket_cb(CURL *, curl_socket_t s, int what, void *userp, void *) {
    Impl *self = static_cast<Impl *>(userp);
    if (what == CURL_POLL_REMOVE) {
        self->sockets.erase(s);
        return 0;
    }
    short events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= POLLIN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= POLLOUT;
    auto ins = self->sockets.try_emplace(s, Socket{0, 0});
    if (ins.second)
        ins.first->second.generation = ++self->socket_generation;
    ins.first->second.events = events;
    return 0;
}

int Notifier::Impl::timer_cb(CURLM *, long timeout_ms, void *userp) {
    Impl *self = static_cast<Impl *>(userp);
    // Only noted: libcurl must not be called back from here, and the loop
    // picks the deadline up through timeout_ms().
    self->timer_armed = timeout_ms >= 0;
    if (self->timer_armed)
        self->timer_due = Clock::now() + std::chrono::milliseconds(timeout_ms);
    return 0;
}

void Notifier::Impl::act(curl_socket_t s, int mask) {
    int running = 0;
    CURLMcode rc = curl_multi_socket_action(multi, s, mask, &running);
    // After an error the state of every transfer is undefined (see
    // curl_multi_socket_action(3)): all of them are taken out and retried.
    if (rc != CURLM_OK)
        abort_in_flight(curl_multi_strerror(rc));
}

void Notifier::Impl::run_timer_if_due() {
    if (!timer_armed || Clock::now() < timer_due)
        return;
    timer_armed = false;
    act(CURL_SOCKET_TIMEOUT, 0);
}

void Notifier::Impl::collect_done() {
    int left = 0;
    while (CURLMsg *msg = curl_multi_info_read(multi, &left)) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        // The message does not outlive the removal of its handle.
        CURL *easy = msg->easy_handle;
        CURLcode result = msg->data.result;
        char *priv = nullptr;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        auto it = items.find(reinterpret_cast<uintptr_t>(priv));
        if (it == items.end() || it->second.easy != easy)
            continue; // cannot happen: every handle in the multi belongs to an item
        Item &item = it->second;
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        std::string curl_error = item.errbuf[0] ? item.errbuf : curl_easy_strerror(result);
        end_try(item);
        // A 2xx answer means the receiver has the notification, even if
        // reading the rest of the answer then failed: trying again would
        // deliver it twice.
        if (status >= 200 && status < 300) {
            log(LogLevel::info, "PVL00060",
                "status notification delivered to " + item.log_url + " (HTTP " +
                    std::to_string(status) + ", try " + std::to_string(item.tries) + " of " +
                    std::to_string(opts.attempts) + ")");
            ++delivered;
            items.erase(it);
        } else if (result != CURLE_OK) {
            try_failed(it->first, item, curl_error);
        } else {
            try_failed(it->first, item,
                       "HTTP " + std::to_string(status) +
                           (status >= 300 && status < 400 ? " (redirects are not followed)" : ""));
        }
    }
}

void Notifier::Impl::start_due() {
    const auto now = Clock::now();
    for (auto it = items.begin(); it != items.end() && in_flight < opts.max_parallel;) {
        // start_try() may give the item up and erase it.
        auto cur = it++;
        if (!cur->second.easy && cur->second.due <= now)
            start_try(cur->first, cur->second);
    }
}

void Notifier::Impl::start_try(uint64_t id, Item &item) {
    ++item.tries;
    item.errbuf[0] = '\0';
    CURL *e = curl_easy_init();
    if (!e) {
        try_failed(id, item, "cannot create a libcurl handle");
        return;
    }
    CURLcode rc = CURLE_OK;
    auto set = [&](CURLoption opt, auto value) {
        if (rc == CURLE_OK)
            rc = curl_easy_setopt(e, opt, value);
    };
    set(CURLOPT_ERRORBUFFER, item.errbuf);
    set(CURLOPT_PRIVATE, reinterpret_cast<void *>(static_cast<uintptr_t>(id)));
    set(CURLOPT_URL, item.url.c_str());
    // post() checked the scheme already; this also covers whatever libcurl
    // might reinterpret later.
#if LIBCURL_VERSION_NUM >= 0x075500
    set(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    set(CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    // A redirect could send the notification (and what it carries) where
    // the client never pointed it.
    set(CURLOPT_FOLLOWLOCATION, 0L);
    // The daemon's environment is Apache's; a proxy set there is not meant
    // for these requests.
    set(CURLOPT_NOPROXY, "*");
    // Signals are the daemon's (signalfd); libcurl must not touch them.
    set(CURLOPT_NOSIGNAL, 1L);
    set(CURLOPT_TIMEOUT_MS, static_cast<long>(std::ceil(opts.attempt_timeout * 1000.0)));
    // Notifications are rare: a connection kept for reuse would hold a
    // descriptor for nothing.
    set(CURLOPT_FORBID_REUSE, 1L);
    set(CURLOPT_USERAGENT, "mod_pvlaunch");
    set(CURLOPT_HTTPHEADER, item.headers);
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(item.body.size()));
    set(CURLOPT_POSTFIELDS, item.body.data());
    set(CURLOPT_WRITEFUNCTION, discard);
    if (rc != CURLE_OK) {
        curl_easy_cleanup(e);
        try_failed(id, item, std::string("cannot set up the request: ") + curl_easy_strerror(rc));
        return;
    }
    CURLMcode mrc = curl_multi_add_handle(multi, e);
    if (mrc != CURLM_OK) {
        curl_easy_cleanup(e);
        try_failed(id, item, std::string("cannot start the request: ") + curl_multi_strerror(mrc));
        return;
    }
    item.easy = e;
    ++in_flight;
}

void Notifier::Impl::end_try(Item &item) {
    curl_multi_remove_handle(multi, item.easy);
    curl_easy_cleanup(item.easy);
    item.easy = nullptr;
    --in_flight;
}

void Notifier::Impl::try_failed(uint64_t id, Item &item, const std::string &reason) {
    if (item.tries >= opts.attempts) {
        log(LogLevel::warning, "PVL00062",
            "giving up the status notification to " + item.log_url + " after " +
                std::to_string(item.tries) + " tries: " + reason);
        ++failed;
        items.erase(id);
        return;
    }
    double delay =
        std::min(max_retry_delay, opts.first_retry_delay * std::pow(2.0, item.tries - 1));
    item.due = Clock::now() +
               std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(delay));
    log(LogLevel::info, "PVL00061",
        "status notification to " + item.log_url + " failed (try " + std::to_string(item.tries) +
            " of " + std::to_string(opts.attempts) + "): " + reason + "; retrying in " +
            seconds_text(delay));
}

void Notifier::Impl::abort_in_flight(const std::string &why) {
    log(LogLevel::error, "PVL00064",
        "libcurl failed (" + why + "); " + std::to_string(in_flight) +
            " status notification(s) in flight count as failed tries");
    for (auto it = items.begin(); it != items.end();) {
        auto cur = it++;
        if (cur->second.easy) {
            end_try(cur->second);
            try_failed(cur->first, cur->second, "libcurl failed: " + why);
        }
    }
}

Notifier::Notifier(NotifierOptions opts) : impl_(std::make_unique<Impl>(opts)) {}

Notifier::~Notifier() = default;

bool Notifier::post(const std::string &url, const std::string &body,
                    const std::string &content_type, std::string *error) {
    std::string ignored;
    if (!error)
        error = &ignored;
    Impl &d = *impl_;
    if (!d.multi) {
        *error = "libcurl could not be initialised";
        return false;
    }
    if (content_type.empty() || has_control_chars(content_type)) {
        *error = "the content type is empty or contains control characters";
        return false;
    }
    NotifyUrl parsed;
    if (!parse_notify_url(url, &parsed, error))
        return false;
    std::string normalized = parsed.normalized;
    const std::string &log_url = parsed.for_log;
    if (d.items.size() >= d.opts.max_pending) {
        log(LogLevel::warning, "PVL00063",
            "status notification to " + log_url + " dropped: " + std::to_string(d.items.size()) +
                " notifications are pending already");
        *error = "too many status notifications pending";
        return false;
    }
    curl_slist *headers = curl_slist_append(nullptr, ("Content-Type: " + content_type).c_str());
    // libcurl would otherwise ask large bodies to wait for "100 Continue",
    // which receivers that do not send it answer only after a delay.
    curl_slist *more = headers ? curl_slist_append(headers, "Expect:") : nullptr;
    if (!more) {
        curl_slist_free_all(headers);
        *error = "out of memory";
        return false;
    }
    Impl::Item &item = d.items[d.next_id++];
    item.url = std::move(normalized);
    item.log_url = std::move(log_url);
    item.body = body;
    item.headers = more;
    item.due = Clock::now();
    return true;
}

void Notifier::add_pollfds(std::vector<struct pollfd> &fds) const {
    for (const auto &kv : impl_->sockets)
        fds.push_back({kv.first, kv.second.events, 0});
}

void Notifier::on_poll(const struct pollfd *fds, size_t n) {
    Impl &d = *impl_;
    if (!d.multi)
        return;
    // Noted first: handing one descriptor's events to libcurl may close
    // another one and reuse its number for a new connection, which must not
    // get the old one's events.
    d.fired.clear();
    for (size_t i = 0; i < n; ++i) {
        if (!fds[i].revents)
            continue;
        auto it = d.sockets.find(fds[i].fd);
        if (it == d.sockets.end())
            continue;
        int mask = 0;
        if (fds[i].revents & (POLLIN | POLLHUP))
            mask |= CURL_CSELECT_IN;
        if (fds[i].revents & POLLOUT)
            mask |= CURL_CSELECT_OUT;
        if (fds[i].revents & (POLLERR | POLLNVAL))
            mask |= CURL_CSELECT_ERR;
        d.fired.push_back({fds[i].fd, mask, it->second.generation});
    }
    for (const Impl::Fired &f : d.fired) {
        auto it = d.sockets.find(f.fd);
        if (it != d.sockets.end() && it->second.generation == f.generation)
            d.act(f.fd, f.mask);
    }
    d.run_timer_if_due();
    d.collect_done();
    // Tries started here get going at once rather than one loop turn later
    // (adding a handle asks for an immediate timeout).
    d.start_due();
    d.run_timer_if_due();
    d.collect_done();
}

int Notifier::timeout_ms() const {
    const Impl &d = *impl_;
    if (d.items.empty())
        return -1;
    const auto now = Clock::now();
    bool any = false;
    Clock::time_point next;
    if (d.timer_armed) {
        next = d.timer_due;
        any = true;
    }
    if (d.in_flight < d.opts.max_parallel)
        for (const auto &kv : d.items)
            if (!kv.second.easy && (!any || kv.second.due < next)) {
                next = kv.second.due;
                any = true;
            }
    // libcurl keeps a timer while a transfer runs (the try's timeout), so
    // this is only a safeguard against waiting forever.
    if (!any)
        return 1000;
    return ms_until(next, now);
}

size_t Notifier::pending() const {
    return impl_->items.size();
}
size_t Notifier::delivered() const {
    return impl_->delivered;
}
size_t Notifier::failed() const {
    return impl_->failed;
}

} // namespace pvl
