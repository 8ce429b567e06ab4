"""Every message mod_pvlaunch writes to the error log carries its own
stable number (PVLnnnnn, like Apache's AHnnnnn): a call site without one,
or a number used at two call sites, fails here."""
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = ["mod_pvlaunch.cpp"] + [
    os.path.join(d, f) for d in ("src/httpd", "src/daemon")
    for f in sorted(os.listdir(os.path.join(REPO, d))) if f.endswith(".cpp")]

# ap_log_error(...)/ap_log_rerror(...) and the daemon's log(LogLevel::..., "PVL...", ...)
CALL = re.compile(r"\b(ap_log_r?error|log)\s*\(\s*(APLOG_MARK|LogLevel::)")
NUMBER = re.compile(r'"(PVL\d{5})')


def call_sites():
    for rel in SOURCES:
        with open(os.path.join(REPO, rel)) as f:
            text = f.read()
        for m in CALL.finditer(text):
            # the call's text up to its closing parenthesis (depth-aware)
            depth, i = 0, text.index("(", m.start())
            while i < len(text):
                if text[i] == "(":
                    depth += 1
                elif text[i] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                i += 1
            line = text.count("\n", 0, m.start()) + 1
            yield "%s:%d" % (rel, line), text[m.start():i + 1]


def test_every_log_call_has_a_unique_number():
    seen = {}
    missing = []
    sites = list(call_sites())
    assert len(sites) > 50, "the scan found too few log calls: %d" % len(sites)
    for where, call in sites:
        found = NUMBER.findall(call)
        if 'PVL' not in call:
            # the log sink forwards numbered messages it is given
            if '"%s: %s", msgno' in " ".join(call.split()):
                continue
            missing.append(where)
            continue
        for number in found:
            seen.setdefault(number, []).append(where)
    assert missing == [], "log calls without a PVL number: %s" % missing
    dupes = {n: w for n, w in seen.items() if len(w) > 1}
    assert dupes == {}, "numbers used at more than one call site: %s" % dupes
