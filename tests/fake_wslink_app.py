#!/usr/bin/python3
"""Stand-in for a wslink (>= 2.0) application server, used by the tests.

It speaks just enough of the wslink binary protocol to be useful behind the
proxy: every websocket message is a msgpack map carried in BINARY frames, each
frame being a 12-byte header (three little-endian uint32: message id, offset of
the chunk in the message, total message size) followed by the chunk bytes.

Supported calls:
  wslink.hello  args [{"secret": S}]  -> {"clientID": "c<hex>", "maxMsgSize": N}
  demo.echo     args [x]              -> {"echo": x, "session": TAG}
  demo.whoami                         -> {"pid": ..., "port": ..., "args": argv[1:]}
  demo.info                           -> {"pid": ..., "port": ..., "clientID": ...}
  GET /status (plain HTTP)            -> {"port": ..., "tag": ..., "pid": ...}
                                         (no secret: what the demo page shows)
  application.exit.later  args [s]    -> null; the server stops s seconds later
                                         (default 60), as wslink's does; the
                                         npm client calls it when destroyed
  application.exit                    -> null; the server stops at once

The --mode option selects a (mis)behaviour so that the launcher can be
exercised: ready, slow, never, exit-early, crash-later, ignore-term,
spawn-child, escape-child (a child in a session of its own, out of reach of
the app's process group, as a daemonizing helper would be).  See --help.
"""

import argparse
import json
import os
import signal
import sys
import time

DEFAULT_READY_LINE = "Starting factory"
MAX_MSG_SIZE = 4194304
HEADER_SIZE = 12
MODES = ("ready", "slow", "never", "exit-early", "crash-later",
         "ignore-term", "spawn-child", "escape-child")
# Modes whose --delay default is not 0.
DEFAULT_DELAYS = {"slow": 2.0, "crash-later": 1.0}


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def err(line):
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def parse_args(argv):
    p = argparse.ArgumentParser(description="fake wslink application")
    p.add_argument("--host", default="127.0.0.1")
    # argparse exits with status 2 and a message if this is not an int.
    p.add_argument("--port", type=int, required=True)
    # --authKey is what wslink's own servers take (examples/simple).
    p.add_argument("--secret", "--authKey", dest="secret", required=True)
    p.add_argument("--mode", choices=MODES, default="ready")
    p.add_argument("--delay", type=float, default=None,
                   help="seconds; default 2 for slow, 1 for crash-later, "
                        "0 otherwise")
    p.add_argument("--ready-line", default=DEFAULT_READY_LINE)
    p.add_argument("--trame", action="store_true",
                   help="announce readiness as a trame app does (App running at:)")
    p.add_argument("--tag", default="",
                   help="session tag returned by demo.echo")
    p.add_argument("--deflate", action="store_true",
                   help="accept permessage-deflate (off by default)")
    p.add_argument("--show-env", action="append", default=[],
                   help="print this environment variable at start (repeatable)")
    a = p.parse_args(argv)
    if a.delay is None:
        a.delay = DEFAULT_DELAYS.get(a.mode, 0.0)
    return a


# ---------------------------------------------------------------------------
# Modes that never start a server: no asyncio / websockets import needed.

def run_never(opts):
    def on_term(signum, frame):
        sys.exit(0)
    signal.signal(signal.SIGTERM, on_term)
    out("starting...")
    out("still starting...")
    while True:
        time.sleep(3600)


def run_exit_early(opts):
    if opts.delay > 0:
        time.sleep(opts.delay)
    err("fatal: cannot start")
    sys.exit(3)


# ---------------------------------------------------------------------------
# The websocket server.

class Reassembler:
    """Collects chunks of binary wslink messages by message id."""

    def __init__(self):
        self.pending = {}  # id -> [bytearray, bytes received]

    def feed(self, frame):
        """Returns the complete message bytes, or None if more is needed."""
        import struct
        if len(frame) < HEADER_SIZE:
            raise ValueError("frame shorter than wslink header")
        msg_id, offset, total = struct.unpack_from("<III", frame, 0)
        chunk = memoryview(frame)[HEADER_SIZE:]
        if total > MAX_MSG_SIZE * 16 or offset + len(chunk) > total:
            raise ValueError("bad wslink chunk header")
        if offset == 0 and len(chunk) == total:
            self.pending.pop(msg_id, None)
            return bytes(chunk)
        entry = self.pending.get(msg_id)
        if entry is None or len(entry[0]) != total:
            entry = [bytearray(total), 0]
            self.pending[msg_id] = entry
        entry[0][offset:offset + len(chunk)] = chunk
        entry[1] += len(chunk)
        if entry[1] >= total:
            del self.pending[msg_id]
            return bytes(entry[0])
        return None


class App:
    def __init__(self, opts, msgpack):
        self.opts = opts
        self.msgpack = msgpack
        self.port = opts.port
        self.next_client = 0
        self.next_msg_id = 0
        # Set by serve(): stop_later(seconds) makes the server stop.
        self.stop_later = None

    def encode(self, msg):
        import struct
        payload = self.msgpack.packb(msg, use_bin_type=True)
        self.next_msg_id = (self.next_msg_id + 1) & 0xFFFFFFFF
        return struct.pack("<III", self.next_msg_id, 0, len(payload)) + payload

    async def process_request(self, path, headers):
        from http import HTTPStatus
        if path.split("?", 1)[0] == "/status":
            # plain HTTP to the app, as trame's /api/<id>/... rule sends it
            body = json.dumps({"port": self.port, "tag": self.opts.tag,
                               "pid": os.getpid()}).encode()
            return HTTPStatus.OK, [("Content-Type", "application/json")], body
        if path.split("?", 1)[0] != "/ws":
            return HTTPStatus.NOT_FOUND, [("Content-Type", "text/plain")], \
                b"Not Found\n"
        return None

    def dispatch(self, msg, state):
        """Returns the reply for one decoded message, or None."""
        if not isinstance(msg, dict) or "method" not in msg:
            return None
        req_id = msg.get("id")
        method = msg.get("method")
        args = msg.get("args") or []

        def error(code, text):
            return {"wslink": "1.0", "id": req_id,
                    "error": {"code": code, "message": text}}

        def result(value):
            return {"wslink": "1.0", "id": req_id, "result": value}

        if method == "wslink.hello":
            secret = None
            if args and isinstance(args[0], dict):
                secret = args[0].get("secret")
            if secret != self.opts.secret:
                return error(-32000, "Authentication failed")
            if state.get("client_id") is None:
                self.next_client += 1
                state["client_id"] = "c%x" % (
                    (os.getpid() << 16) + self.next_client)
            return result({"clientID": state["client_id"],
                           "maxMsgSize": MAX_MSG_SIZE})
        if state.get("client_id") is None:
            return error(-32001, "Not authenticated")
        if method == "demo.echo":
            return result({"echo": args[0] if args else None,
                           "session": self.opts.tag})
        if method == "demo.whoami":
            return result({"pid": os.getpid(), "port": self.port,
                           "args": sys.argv[1:]})
        if method == "demo.info":
            return result({"pid": os.getpid(), "port": self.port,
                           "clientID": state["client_id"]})
        if method in ("application.exit", "application.exit.later"):
            delay = 0.0
            if method == "application.exit.later":
                delay = 60.0
                if args and isinstance(args[0], (int, float)) \
                        and not isinstance(args[0], bool):
                    delay = max(0.0, float(args[0]))
            out("exit scheduled in %gs (%s)" % (delay, method))
            if self.stop_later is not None:
                self.stop_later(delay)
            return result(None)
        return error(-32601, "Method not found: %s" % (method,))

    async def handler(self, ws, *unused):
        from websockets.exceptions import ConnectionClosed
        state = {"client_id": None}
        chunks = Reassembler()
        try:
            async for frame in ws:
                try:
                    if isinstance(frame, str):
                        msg = json.loads(frame)
                    else:
                        data = chunks.feed(frame)
                        if data is None:
                            continue
                        msg = self.msgpack.unpackb(data, raw=False)
                except Exception as exc:  # malformed input: drop the client
                    err("bad message: %s" % (exc,))
                    await ws.close(1003, "bad message")
                    return
                reply = self.dispatch(msg, state)
                if reply is not None:
                    await ws.send(self.encode(reply))
        except ConnectionClosed:
            pass


async def serve(opts):
    import asyncio
    import msgpack
    import websockets

    loop = asyncio.get_running_loop()
    stop = loop.create_future()

    def request_stop():
        if not stop.done():
            stop.set_result(None)

    if opts.mode == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        loop.add_signal_handler(signal.SIGTERM, request_stop)
    loop.add_signal_handler(signal.SIGINT, request_stop)

    if opts.mode == "slow" and opts.delay > 0:
        await asyncio.sleep(opts.delay)

    app = App(opts, msgpack)
    app.stop_later = lambda seconds: loop.call_later(seconds, request_stop)
    try:
        server = await websockets.serve(
            app.handler, opts.host, opts.port,
            process_request=app.process_request,
            compression="deflate" if opts.deflate else None,
            max_size=None, close_timeout=1)
    except (OSError, OverflowError) as exc:
        err("cannot listen on %s:%s: %s" % (opts.host, opts.port, exc))
        sys.exit(4)
    if opts.port == 0 and server.sockets:
        app.port = server.sockets[0].getsockname()[1]
        out("listening on port %d" % app.port)

    if opts.mode == "spawn-child":
        import subprocess
        child = subprocess.Popen(["sleep", "1000"], stdin=subprocess.DEVNULL)
        out("child pid %d" % child.pid)

    if opts.mode == "escape-child":
        import subprocess
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)",
                                  "escaped-from-%d" % opts.port],
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        out("child pid %d" % child.pid)

    if opts.trame:
        out("App running at:")
        out(" - Local:   http://localhost:%d/" % app.port)
    else:
        out(opts.ready_line)

    if opts.mode == "crash-later":
        async def crash():
            await asyncio.sleep(opts.delay)
            try:
                import resource
                resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            except Exception:
                pass
            signal.signal(signal.SIGSEGV, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGSEGV)
        loop.create_task(crash())

    await stop
    server.close()
    await server.wait_closed()


def open_fds():
    """Descriptors open at start-up, i.e. inherited from whoever spawned us
    (the listing's own descriptor is closed again by the time we look)."""
    fds = []
    for name in os.listdir("/proc/self/fd"):
        try:
            os.readlink("/proc/self/fd/" + name)
        except OSError:
            continue
        fds.append(int(name))
    return sorted(fds)


def main(argv=None):
    fds = open_fds()
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    out("fds: " + json.dumps(fds))
    out("args: " + json.dumps(sys.argv[1:]))
    out("cwd: " + os.getcwd())
    out("env PVTEST=" + os.environ.get("PVTEST", ""))
    for name in opts.show_env:
        out("env %s=%s" % (name, os.environ.get(name, "<unset>")))
    out("groups: " + json.dumps(sorted(os.getgroups())))
    if opts.mode == "never":
        run_never(opts)
    elif opts.mode == "exit-early":
        run_exit_early(opts)
    else:
        import asyncio
        asyncio.run(serve(opts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
