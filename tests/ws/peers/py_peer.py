#!/usr/bin/python3
"""A WebSocket peer built on Python's websockets (Debian's 10.4, its asyncio
API), independent of nghttpw, for the C tests to run against.  ws_peer.js
implements the same command line and behaviour with node's ws, so a test
can use either; README in this directory is the contract.

  /usr/bin/python3 py_peer.py server [--port N] [--path /p] [--protocols a,b] [--timeout S]
                                     [--deflate JSON]
  /usr/bin/python3 py_peer.py client URL [--protocol p] [--big N] [--deflate JSON]

Run it with /usr/bin/python3: Debian's python3-websockets is installed for
that interpreter only.
"""

import asyncio
import json
import os
import random
import signal
import sys
from http import HTTPStatus
from urllib.parse import urlsplit

import websockets
from websockets.exceptions import ConnectionClosed, InvalidState
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)
from websockets.legacy.client import WebSocketClientProtocol
from websockets.legacy.server import WebSocketServerProtocol
from websockets.frames import OP_CONT, OP_TEXT, Close

MIB = 1024 * 1024
MAX_MESSAGE = 64 * MIB  # the server's message size limit
MAX_GENERATED = 1024 * MIB  # bound on what cmd:send / cmd:frag make
SERVER_CLOSE_TIMEOUT = 10  # as closeTimeout in ws_peer.js
CLIENT_CLOSE_TIMEOUT = 4  # so the close step ends within its 10 s


def say(line):
    """One line on stdout, flushed: the C test reads it at once."""
    try:
        print(line, flush=True)
    except BrokenPipeError:
        pass  # a test that stops reading our stdout must not stop us


def usage(msg=None):
    if msg:
        print(f"py_peer: {msg}", file=sys.stderr)
    print(
        "usage: py_peer.py server [--port N] [--path /p] [--protocols a,b] [--timeout S]\n"
        "                          [--deflate JSON]\n"
        "       py_peer.py client URL [--protocol p] [--big N] [--deflate JSON]",
        file=sys.stderr,
    )
    sys.exit(2)


def parse_options(args, known):
    """ "--name value" options; `known` maps each name to a parser."""
    opts = {}
    if len(args) % 2:
        usage(f"{args[-1]} needs a value")
    for name, value in zip(args[::2], args[1::2]):
        if name not in known:
            usage(f"unknown option {name}")
        opts[name[2:]] = known[name](value, name)
    return opts


def non_neg_int(s, name):
    if not s.isascii() or not s.isdigit():
        usage(f"{name}: not a number: {s}")
    return int(s)


def string(s, name):
    return s


# --deflate: the options of ws_peer.js's perMessageDeflate, as a JSON object
# (README), for websockets' permessage-deflate factories.
DEFLATE_KEYS = {
    "serverNoContextTakeover": "server_no_context_takeover",
    "clientNoContextTakeover": "client_no_context_takeover",
    "serverMaxWindowBits": "server_max_window_bits",
    "clientMaxWindowBits": "client_max_window_bits",
    "threshold": None,  # websockets compresses every message
}


def deflate_options(s, name):
    try:
        v = json.loads(s)
    except ValueError as e:
        usage(f"{name}: not JSON: {e}")
    if not isinstance(v, dict):
        usage(f"{name}: not a JSON object: {s}")
    for k in v:
        if k not in DEFLATE_KEYS:
            usage(f"{name}: unknown key {k}")
    return {DEFLATE_KEYS[k]: x for k, x in v.items() if DEFLATE_KEYS[k] is not None}


def compression_args(params, factory):
    """websockets' keyword arguments for --deflate (None: not given): its
    own default permessage-deflate for {}, else a factory with params."""
    if params is None:
        return {"compression": None}
    if not params:
        return {"compression": "deflate"}
    return {"compression": None, "extensions": [factory(**params)]}


class Counting:
    """Counts the bytes a connection reads and writes on TCP, as node's
    socket.bytesRead and bytesWritten do (the handshake included)."""

    bytes_read = 0
    bytes_written = 0

    def connection_made(self, transport):
        write = transport.write

        def counted(data):
            self.bytes_written += len(data)
            write(data)
        transport.write = counted
        super().connection_made(transport)

    def data_received(self, data):
        self.bytes_read += len(data)
        super().data_received(data)


class CountingServer(Counting, WebSocketServerProtocol):
    pass


class CountingClient(Counting, WebSocketClientProtocol):
    pass


# Byte i of every generated binary message is (i*7+3) & 0xff, which depends
# on i mod 256 only: repeating one period is fast even for 16 MiB.
_PERIOD = bytes((i * 7 + 3) & 0xFF for i in range(256))


def pattern(n):
    return (_PERIOD * (n // 256 + 1))[:n]


def valid_close_code(c):
    """The codes a close frame may carry (RFC 6455 7.4), as ws and websockets."""
    return (1000 <= c <= 1014 and c not in (1004, 1005, 1006)) or 3000 <= c <= 4999


def with_reason(word, code, reason):
    return f"{word} {code} {reason}" if reason else f"{word} {code}"


def prose(n):
    """n bytes of English-like text (as ws_peer.js's)."""
    words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog",
             "WebSocket", "deflate", "window", "context", "message", "frame", "compress"]
    parts, length, i = [], 0, 0
    while length < n:
        w = words[(i * 7 + (i >> 3)) % len(words)] + (".\n" if i % 11 == 10 else " ")
        parts.append(w)
        length += len(w)
        i += 1
    return "".join(parts)[:n]


def records(n):
    """n bytes of binary that repeats every 100 bytes (as ws_peer.js's)."""
    unit = bytes(((i * 37) + (128 if i > 50 else 0)) & 0xFF for i in range(100))
    return (unit * (n // 100 + 1))[:n]


def json_text(n):
    """n bytes of JSON-like text (as ws_peer.js's)."""
    parts, length, i = ["["], 1, 0
    while length < n:
        r = f'{{"id":{i},"user":"user{i % 97}","score":{(i * 37) % 1000},"tags":["a","b"]}},'
        parts.append(r)
        length += len(r)
        i += 1
    return "".join(parts)[:n]


# ------------------------------------------------------------------ server


class CmdError(Exception):
    """A bad command: answered with a text message "error: ..."."""


async def run_server(o):
    protocols = o["protocols"].split(",") if o.get("protocols") else None
    timeout = o.get("timeout", 60)

    # Exit at once, without close handshakes: a test that is done with us
    # must not wait, and ws_peer.js does the same.
    def quit_now(why=None):
        if why:
            print(f"py_peer: {why}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(0)

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, quit_now)
    loop.add_signal_handler(signal.SIGINT, quit_now)
    loop.call_later(timeout, quit_now, f"server timeout ({timeout} s), exiting")

    async def process_request(path, headers):
        # Only the path is compared, not the query string.
        if o.get("path") and urlsplit(path).path != o["path"]:
            return HTTPStatus.NOT_FOUND, [("Content-Type", "text/plain")], b"not found\n"
        return None

    def select_subprotocol(offered, ours):
        # The first protocol of OUR list that the client offered (the
        # default would weigh the client's order too).
        return next((p for p in ours if p in offered), None)

    server = await websockets.serve(
        serve_connection,
        "127.0.0.1",
        o.get("port", 0),
        process_request=process_request,
        subprotocols=protocols,
        select_subprotocol=select_subprotocol,
        # Frames go out uncompressed unless --deflate says otherwise.
        **compression_args(o.get("deflate"), ServerPerMessageDeflateFactory),
        create_protocol=CountingServer,
        max_size=MAX_MESSAGE,
        ping_interval=None,  # no pings of our own but those cmd:ping asks for
        close_timeout=SERVER_CLOSE_TIMEOUT,
    )
    say(f"PORT {server.sockets[0].getsockname()[1]}")
    await asyncio.Future()  # until quit_now


async def serve_connection(ws):
    pings = set()  # payloads of our pings that await their pong
    try:
        async for msg in ws:
            if isinstance(msg, str) and msg.startswith("cmd:"):
                try:
                    await command(ws, pings, msg[4:])
                except CmdError as e:
                    await ws.send(f"error: {e}")
            else:
                await ws.send(msg)  # the echo: str stays text, bytes binary
    except (ConnectionClosed, InvalidState):
        pass
    await ws.wait_closed()
    # close_code: the client's close code, 1005 if its close frame had
    # none, 1006 if it sent no close frame.
    say(with_reason("CLOSE", ws.close_code, ws.close_reason))


async def command(ws, pings, line):
    """One command, the text after "cmd:"."""
    name, _, rest = line.partition(" ")

    def ints(n):
        a = rest.split(" ")
        if len(a) != n or not all(s.isascii() and s.isdigit() for s in a):
            raise CmdError(f"cmd:{name} wants {n} number(s)")
        return [int(s) for s in a]

    if name == "close":
        if rest == "":
            # A close frame without a status code: websockets' close() cannot
            # send one, so write it as the library itself does when it echoes
            # an empty close frame; close() then only waits (bounded) for the
            # client's answer.
            await ws.write_close_frame(Close(1005, ""), b"")
            await ws.close()
            return
        code_str, _, reason = rest.partition(" ")
        # Checked here so both peers refuse the same codes and reasons.
        if not (code_str.isascii() and code_str.isdigit()) or not valid_close_code(int(code_str)):
            raise CmdError(f"cmd:close: invalid close code {code_str}")
        if len(reason.encode()) > 123:
            raise CmdError("cmd:close: reason longer than 123 bytes")
        await ws.close(int(code_str), reason)
    elif name == "ping":
        if len(rest.encode()) > 125:
            raise CmdError("cmd:ping: payload longer than 125 bytes")
        if rest in pings:
            raise CmdError("cmd:ping: a ping with that payload awaits its pong")
        pings.add(rest)
        waiter = await ws.ping(rest)
        asyncio.create_task(report_pong(waiter, pings, rest))
    elif name == "send":
        (n,) = ints(1)
        if n > MAX_GENERATED:
            raise CmdError("cmd:send: too big")
        await ws.send(pattern(n))
    elif name == "frag":
        k, size = ints(2)
        if k < 1 or k * size > MAX_GENERATED:
            raise CmdError("cmd:frag: bad K or SIZE")
        # Byte j of the whole message is 'a' + j % 26: the cycle runs on
        # across frames.  Exactly K frames are written: websockets' send()
        # of an iterable would add an empty final frame (K+1 frames), so
        # its frame writer is used directly; nothing else sends data
        # frames on this connection meanwhile.
        alphabet = b"abcdefghijklmnopqrstuvwxyz"
        data = (alphabet * (k * size // 26 + 1))[: k * size]
        await ws.ensure_open()
        for f in range(k):
            chunk = data[f * size : (f + 1) * size]
            await ws.write_frame(f == k - 1, OP_TEXT if f == 0 else OP_CONT, chunk)
    elif name == "headers":
        # Repeated headers are joined with ", ", in the order received.
        h = {}
        for key, value in ws.request_headers.raw_items():
            key = key.lower()
            h[key] = f"{h[key]}, {value}" if key in h else value
        h["_protocol"] = ws.subprotocol
        h["_path"] = ws.path
        await ws.send(json.dumps(h, ensure_ascii=False, separators=(",", ":")))
    elif name == "info":
        # What was agreed, and the bytes the connection has carried so far
        # (the opening handshake included).
        await ws.send(json.dumps({
            "offer": ws.request_headers.get("Sec-WebSocket-Extensions"),
            "extensions": ws.response_headers.get("Sec-WebSocket-Extensions"),
            "bytesRead": ws.bytes_read,
            "bytesWritten": ws.bytes_written,
        }, separators=(",", ":")))
    else:
        raise CmdError(f"unknown command cmd:{name}")


async def report_pong(waiter, pings, payload):
    try:
        await waiter  # websockets matches the pong's payload to our ping
    except ConnectionClosed:
        return
    finally:
        pings.discard(payload)
    say(f"PONG {payload}" if payload else "PONG")


# ------------------------------------------------------------------ client


class StepFailed(Exception):
    pass


def as_bytes(m):
    return m.encode() if isinstance(m, str) else m


def describe(m):
    return f"{'text' if isinstance(m, str) else 'binary'} of {len(as_bytes(m))} bytes"


def expect(got, want):
    """Checks that `got` is `want`: same type (str is text), byte for byte."""
    g, w = as_bytes(got), as_bytes(want)
    if type(got) is not type(want) or len(g) != len(w):
        raise StepFailed(f"got {describe(got)}, want {describe(want)}")
    if g != w:
        i = next(j for j in range(len(w)) if g[j] != w[j])
        raise StepFailed(f"{describe(want)}: byte {i} is {g[i]}, want {w[i]}")


async def run_client(url, o):
    """A fixed script against an echo server; see README for the steps."""
    big = o.get("big", 16 * MIB)
    protocol = o.get("protocol")
    deflate = o.get("deflate")

    passed = failed = 0
    broken = None  # why the connection can no longer be trusted
    ws = None

    async def step(name, fn, limit=10):
        # A timeout or a lost connection makes the rest "not run", since
        # late echoes would be taken for the next step's.
        nonlocal passed, failed, broken
        if broken:
            failed += 1
            say(f"FAIL {name}: not run ({broken})")
            return
        try:
            await asyncio.wait_for(fn(), limit)
        except asyncio.TimeoutError:
            why = f"no answer within {limit} s"
            broken = f"after {name}: {why}"
        except ConnectionClosed as e:
            why = f"connection closed ({e.rcvd.code if e.rcvd else 1006})"
            broken = f"after {name}: {why}"
        except Exception as e:  # a wrong echo, or a failed connect
            why = str(e) or type(e).__name__
            if ws is None or ws.closed:
                broken = f"after {name}: {why}"
        else:
            passed += 1
            say(f"ok {name}")
            return
        failed += 1
        say(f"FAIL {name}: {why}")

    async def echo(msg):
        await ws.send(msg)
        expect(await ws.recv(), msg)

    async def connect():
        nonlocal ws
        ws = await websockets.connect(
            url,
            subprotocols=[protocol] if protocol else None,
            **compression_args(deflate, ClientPerMessageDeflateFactory),
            create_protocol=CountingClient,
            max_size=max(big, MAX_MESSAGE),
            ping_interval=None,
            open_timeout=10,
            close_timeout=CLIENT_CLOSE_TIMEOUT,
        )
        if protocol and ws.subprotocol != protocol:
            got = f"subprotocol '{ws.subprotocol}'" if ws.subprotocol else "no subprotocol"
            raise StepFailed(f"server selected {got}, asked '{protocol}'")
        if deflate is not None:
            # The server's Sec-WebSocket-Extensions.
            ext = ws.response_headers.get("Sec-WebSocket-Extensions")
            say(f"EXTENSIONS {ext}")
            if not ext or not ext.startswith("permessage-deflate"):
                raise StepFailed(f"no permessage-deflate agreed: '{ext}'")

    async def fragmented():
        # websockets sends each item as a frame, then an empty final frame.
        parts = ["frag-one ", "frag-two ", "frag-three"]
        await ws.send(parts)
        expect(await ws.recv(), "".join(parts))

    async def ping():
        waiter = await ws.ping("p1")
        try:
            await asyncio.wait_for(waiter, 5)
        except asyncio.TimeoutError:
            raise StepFailed("no pong 'p1' within 5 s") from None

    async def burst():
        # Even i: text "burst <i>"; odd i: binary of i bytes of the pattern.
        msgs = [pattern(i) if i % 2 else f"burst {i}" for i in range(100)]
        for m in msgs:  # all before any echo is read
            await ws.send(m)
        for i, m in enumerate(msgs):
            try:
                expect(await ws.recv(), m)
            except StepFailed as e:
                raise StepFailed(f"message {i}: {e}") from None

    def wire(name, msg):
        # The echo of a message, and the bytes that it and its echo took
        # on the wire: "WIRE <step> payload=N out=X in=Y".
        async def run():
            out0, in0 = ws.bytes_written, ws.bytes_read
            await echo(msg)
            say(f"WIRE {name} payload={len(as_bytes(msg))} "
                f"out={ws.bytes_written - out0} in={ws.bytes_read - in0}")
        return step(name, run, 30)

    async def many():
        # 50 alike messages back to back: each compresses against the ones
        # before it where context takeover is on.
        msgs = [f'{{"seq":{i},"name":"message {i}","ok":true}}' for i in range(50)]
        for m in msgs:
            await ws.send(m)
        for m in msgs:
            expect(await ws.recv(), m)

    async def close():
        await ws.close(4001, "bye")
        say(with_reason("closed", ws.close_code, ws.close_reason))
        if ws.close_code != 4001:
            raise StepFailed(f"server's close code {ws.close_code}, want 4001")

    await step("connect", connect)
    if ws is None and not broken:
        broken = "no connection"
    await step("text-hello", lambda: echo("hello"))
    await step("text-empty", lambda: echo(""))
    await step("binary-empty", lambda: echo(b""))
    for n in (125, 126, 65535, 65536):
        await step(f"binary-{n}", lambda n=n: echo(pattern(n)))
    await step("binary-big", lambda: echo(pattern(big)), 30)
    await step("text-utf8", lambda: echo("héllo wörld ✓ 😀"))
    await step("text-fragmented", fragmented)
    await step("ping", ping)
    await step("burst-100", burst)
    if deflate is not None:
        await wire("deflate-text-small", "small")
        await wire("deflate-text-100k", prose(100 * 1024))
        await wire("deflate-text-1m", json_text(MIB))
        await wire("deflate-binary-1m", records(MIB))
        await wire("deflate-binary-random", random.randbytes(256 * 1024))
        await step("deflate-many", many)
    await step("close", close)

    if ws is not None:
        ws.transport.abort()
    say(f"DONE {passed} passed, {failed} failed")
    return 1 if failed else 0


# -------------------------------------------------------------------- main


async def client_main(url, o):
    try:
        # Each step has its own limit; this only guards against a bug here.
        return await asyncio.wait_for(run_client(url, o), 240)
    except asyncio.TimeoutError:
        say("FAIL client: overall time limit (240 s)")
        return 1


def main(argv):
    # The options are parsed before the event loop starts, so that bad
    # usage is just a message and exit status 2.
    if argv[:1] == ["server"]:
        known = {"--port": non_neg_int, "--path": string, "--protocols": string}
        o = parse_options(argv[1:], {**known, "--timeout": non_neg_int,
                                     "--deflate": deflate_options})
        asyncio.run(run_server(o))
        return 0
    if argv[:1] == ["client"]:
        if len(argv) < 2 or argv[1].startswith("--"):
            usage("client needs a URL")
        o = parse_options(argv[2:], {"--protocol": string, "--big": non_neg_int,
                                     "--deflate": deflate_options})
        return asyncio.run(client_main(argv[1], o))
    usage()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
