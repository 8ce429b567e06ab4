#!/usr/bin/python3
"""Small synchronous wslink (>= 2.0, binary msgpack framing) client for tests.

Functions:
  hello(url, secret, timeout=5, headers=None) -> reply dict of wslink.hello
  call(url, secret, method, args, timeout=5)  -> reply dict of one RPC made
                                                 after a successful hello
  exchange(url, messages, timeout=5, headers=None)
                                              -> replies to raw messages sent
                                                 in order, without any hello
  connect_status(url, timeout=5)              -> HTTP status of the upgrade
                                                 (101 when it was accepted)

Command line:  wslink_client.py URL SECRET
  prints the hello reply as JSON; exit status 0 on success, 1 when the
  server answered with an error (authentication failure), 2 when the
  connection could not be made / the upgrade was refused / timed out.
"""

import asyncio
import json
import struct
import sys

import msgpack
import websockets
from websockets.exceptions import InvalidStatusCode

HEADER = struct.Struct("<III")
HELLO_ID = "system:c0:0"


class HelloFailed(Exception):
    """wslink.hello was answered with an error; .reply holds the reply."""

    def __init__(self, reply):
        super().__init__("wslink.hello failed: %r" % (reply.get("error"),))
        self.reply = reply


def encode_frames(msg, msg_id, chunk_size=None):
    """msgpack-encodes msg and splits it into wslink binary frames."""
    payload = msgpack.packb(msg, use_bin_type=True)
    total = len(payload)
    if not chunk_size or chunk_size >= total:
        return [HEADER.pack(msg_id, 0, total) + payload]
    frames = []
    for offset in range(0, total, chunk_size):
        frames.append(HEADER.pack(msg_id, offset, total)
                      + payload[offset:offset + chunk_size])
    return frames


class _Session:
    """One websocket connection speaking wslink framing."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.partial = {}  # id -> [bytearray, received]

    async def send(self, msg, chunk_size=None):
        self.next_id += 1
        for frame in encode_frames(msg, self.next_id, chunk_size):
            await self.ws.send(frame)

    async def receive(self):
        """Returns the next complete decoded message."""
        while True:
            frame = await self.ws.recv()
            if isinstance(frame, str):
                return json.loads(frame)
            if len(frame) < HEADER.size:
                raise ValueError("short wslink frame (%d bytes)" % len(frame))
            msg_id, offset, total = HEADER.unpack_from(frame, 0)
            chunk = frame[HEADER.size:]
            if offset + len(chunk) > total:
                raise ValueError("wslink chunk exceeds message size")
            if offset == 0 and len(chunk) == total:
                return msgpack.unpackb(chunk, raw=False)
            entry = self.partial.get(msg_id)
            if entry is None or len(entry[0]) != total:
                entry = self.partial[msg_id] = [bytearray(total), 0]
            entry[0][offset:offset + len(chunk)] = chunk
            entry[1] += len(chunk)
            if entry[1] >= total:
                del self.partial[msg_id]
                return msgpack.unpackb(bytes(entry[0]), raw=False)

    async def request(self, msg, chunk_size=None):
        """Sends msg and waits for the reply carrying the same id."""
        await self.send(msg, chunk_size)
        while True:
            reply = await self.receive()
            if isinstance(reply, dict) and reply.get("id") == msg.get("id"):
                return reply


def _connect(url, timeout, headers=None):
    return websockets.connect(url, extra_headers=headers, open_timeout=timeout,
                              close_timeout=1, max_size=None, compression=None)


def _hello_msg(secret):
    return {"wslink": "1.0", "id": HELLO_ID, "method": "wslink.hello",
            "args": [{"secret": secret}], "kwargs": {}}


def _run(coro, timeout):
    async def bounded():
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


def hello(url, secret, timeout=5, headers=None):
    """Connects, sends wslink.hello and returns the decoded reply."""
    async def go():
        async with _connect(url, timeout, headers) as ws:
            return await _Session(ws).request(_hello_msg(secret))
    return _run(go(), timeout)


def call(url, secret, method, args, timeout=5, headers=None, kwargs=None):
    """hello, then one RPC with id "rpc:<clientID>:1"; returns its reply.

    Raises HelloFailed if the hello is answered with an error."""
    async def go():
        async with _connect(url, timeout, headers) as ws:
            session = _Session(ws)
            reply = await session.request(_hello_msg(secret))
            if "result" not in reply:
                raise HelloFailed(reply)
            client_id = reply["result"]["clientID"]
            return await session.request({
                "wslink": "1.0", "id": "rpc:%s:1" % client_id,
                "method": method, "args": list(args),
                "kwargs": dict(kwargs or {})})
    return _run(go(), timeout)


def exchange(url, messages, timeout=5, headers=None, chunk_size=None):
    """Sends each raw message in turn (no implicit hello) and returns the
    list of replies (matched by id).  chunk_size splits each message into
    several wslink frames."""
    async def go():
        async with _connect(url, timeout, headers) as ws:
            session = _Session(ws)
            return [await session.request(m, chunk_size) for m in messages]
    return _run(go(), timeout)


def connect_status(url, timeout=5, headers=None):
    """HTTP status of the websocket upgrade: 101 if it was accepted,
    otherwise the status of the rejection (404, 502, 503, ...).
    Connection errors (refused, reset, timeout) are raised."""
    async def go():
        try:
            async with _connect(url, timeout, headers):
                return 101
        except InvalidStatusCode as exc:
            return exc.status_code
    return _run(go(), timeout)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        sys.stderr.write("usage: wslink_client.py URL SECRET\n")
        return 2
    url, secret = argv
    try:
        reply = hello(url, secret)
    except Exception as exc:
        sys.stderr.write("connection failed: %s: %s\n"
                         % (type(exc).__name__, exc))
        return 2
    print(json.dumps(reply))
    return 0 if "result" in reply else 1


if __name__ == "__main__":
    sys.exit(main())
