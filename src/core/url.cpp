#include "url.h"

#include <curl/curl.h>
#include <memory>

namespace pvl {
namespace {

std::string part(CURLU *u, CURLUPart what, unsigned flags = 0) {
    char *p = nullptr;
    std::string out;
    if (curl_url_get(u, what, &p, flags) == CURLUE_OK && p)
        out = p;
    curl_free(p);
    return out;
}

bool fail(std::string *error, const std::string &why) {
    *error =
        "Status-Location must be an http:// or https:// URL of at most 2048 characters: " + why;
    return false;
}

} // namespace

bool parse_notify_url(const std::string &url, NotifyUrl *out, std::string *error) {
    if (url.size() > 2048)
        return fail(error, "it is longer");
    // An embedded NUL would make libcurl see another URL than the one checked.
    for (unsigned char c : url)
        if (c < 0x20 || c == 0x7f)
            return fail(error, "it contains control characters");
    std::unique_ptr<CURLU, void (*)(CURLU *)> u(curl_url(), curl_url_cleanup);
    if (!u)
        return fail(error, "out of memory");
    // No flags: a URL without a scheme is an error, not a guess.
    const CURLUcode uc = curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0);
    if (uc != CURLUE_OK)
        return fail(error, curl_url_strerror(uc));
    const std::string scheme = part(u.get(), CURLUPART_SCHEME);
    if (scheme != "http" && scheme != "https")
        return fail(error, "its scheme is " + scheme);
    const std::string host = part(u.get(), CURLUPART_HOST);
    out->normalized = part(u.get(), CURLUPART_URL);
    if (host.empty() || out->normalized.empty())
        return fail(error, "it has no host");
    out->for_log = scheme + "://" + host + ":" + part(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT) +
                   part(u.get(), CURLUPART_PATH);
    return true;
}

} // namespace pvl
