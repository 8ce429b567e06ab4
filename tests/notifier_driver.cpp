// Drives one Notifier from a poll() loop the way the session daemon does, for
// tests/test_notifier.py.
//
// Usage: notifier_driver <url> <body> [attempts] [first_retry_delay] [attempt_timeout]
// Posts <body> (application/json) to <url> once and runs until it is delivered
// or given up, then prints "delivered=N failed=M". Exit status: 0 delivered,
// 1 given up, 2 refused by post(), 64 bad arguments.
#include "daemon/notifier.h"

#include <curl/curl.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <poll.h>

namespace {

bool parse_number(const char *s, double *out) {
    char *end = nullptr;
    errno = 0;
    double v = std::strtod(s, &end);
    if (errno || end == s || *end)
        return false;
    *out = v;
    return true;
}

int run(int argc, char **argv) {
    if (argc < 3 || argc > 6) {
        std::fprintf(stderr,
                     "usage: %s <url> <body> [attempts] [first_retry_delay] "
                     "[attempt_timeout]\n",
                     argv[0]);
        return 64;
    }
    pvl::NotifierOptions opts;
    double v;
    if (argc > 3) {
        if (!parse_number(argv[3], &v) || v < 1 || v > 1000) {
            std::fprintf(stderr, "bad attempts: %s\n", argv[3]);
            return 64;
        }
        opts.attempts = static_cast<int>(v);
    }
    if (argc > 4) {
        if (!parse_number(argv[4], &v) || v < 0) {
            std::fprintf(stderr, "bad first_retry_delay: %s\n", argv[4]);
            return 64;
        }
        opts.first_retry_delay = v;
    }
    if (argc > 5) {
        if (!parse_number(argv[5], &v) || v <= 0) {
            std::fprintf(stderr, "bad attempt_timeout: %s\n", argv[5]);
            return 64;
        }
        opts.attempt_timeout = v;
    }

    pvl::Notifier notifier(opts);
    std::string error;
    if (!notifier.post(argv[1], argv[2], "application/json", &error)) {
        std::fprintf(stderr, "refused: %s\n", error.c_str());
        return 2;
    }
    std::vector<struct pollfd> fds;
    while (notifier.pending() > 0) {
        fds.clear();
        notifier.add_pollfds(fds);
        if (poll(fds.data(), fds.size(), notifier.timeout_ms()) < 0 && errno != EINTR) {
            std::fprintf(stderr, "poll: %s\n", std::strerror(errno));
            return 1;
        }
        notifier.on_poll(fds.data(), fds.size());
    }
    std::printf("delivered=%zu failed=%zu\n", notifier.delivered(), notifier.failed());
    return notifier.delivered() == 1 ? 0 : 1;
}

} // namespace

int main(int argc, char **argv) {
    // As in the session daemon: a receiver closing its end must not kill us.
    signal(SIGPIPE, SIG_IGN);
    int status = run(argc, argv);
    // After the Notifier is gone, so that valgrind sees libcurl's (and
    // OpenSSL's) global state released.
    curl_global_cleanup();
    return status;
}
