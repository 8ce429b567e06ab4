// Status notifications: POSTs to the URLs clients give with a launch request
// ("Status-Location"), sent from the session daemon's poll() loop. Nothing
// here blocks: libcurl's multi interface works on non-blocking sockets that
// the loop polls, and retries wait on deadlines the loop's timeout honours.
// The only threads are those of libcurl's resolver.
#pragma once
#include <cstddef>
#include <memory>
#include <poll.h>
#include <string>
#include <vector>

namespace pvl {

struct NotifierOptions {
    int attempts = 6;               // total tries per notification
    double first_retry_delay = 1.0; // seconds, doubled after each failed try, at most 60 s
    double attempt_timeout = 10.0;  // seconds per try, connecting included
    size_t max_pending = 1000;      // post() refuses (and logs) notifications beyond this
    size_t max_parallel = 16;       // tries in flight at once; due ones beyond wait their turn
};

class Notifier {
  public:
    explicit Notifier(NotifierOptions opts = {});
    // Aborts the tries in flight; what is still pending is lost (and logged).
    ~Notifier();
    Notifier(const Notifier &) = delete;
    Notifier &operator=(const Notifier &) = delete;

    // Queues a POST of `body` with the given Content-Type to `url`; the first
    // try starts at the next on_poll(). Only absolute http and https URLs are
    // accepted, redirects are not followed (a 3xx answer is a failed try),
    // proxies from the environment are ignored. Returns false, with the
    // reason in *error (if error is not null), when the URL or content type
    // is unusable or max_pending notifications are already queued. The
    // reason never contains the URL itself.
    bool post(const std::string &url, const std::string &body, const std::string &content_type,
              std::string *error);

    // Appends the descriptors libcurl is waiting on, with the events it wants.
    void add_pollfds(std::vector<struct pollfd> &fds) const;
    // Call after every poll(), with or without activity: hands the events of
    // libcurl's descriptors to it, then runs expired timers and starts due
    // tries. `fds` may be the whole array or only the part add_pollfds()
    // appended; descriptors libcurl is not watching are ignored.
    void on_poll(const struct pollfd *fds, size_t n);
    // Milliseconds until on_poll() is needed even without activity on the
    // descriptors, -1 when nothing is pending. Take the minimum with the
    // loop's own timeout.
    int timeout_ms() const;

    size_t pending() const;   // queued, in flight or waiting to be retried
    size_t delivered() const; // answered with a 2xx status
    size_t failed() const;    // given up after the last try

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace pvl
