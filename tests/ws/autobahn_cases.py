#!/usr/bin/python3
"""The Autobahn|Testsuite fuzzingclient case families 1-7, 9, 10, 12 and 13,
rebuilt on Debian's python3-autobahn (22.7.1, its asyncio client), against
a WebSocket echo server given by URL.

  /usr/bin/python3 tests/ws/autobahn_cases.py URL [--only PREFIX]... [--limit BYTES]
                   [--compressed-from BYTES] [--list]

Run it with /usr/bin/python3: Debian's python3-autobahn is installed for
that interpreter only.  --only runs the cases whose id is PREFIX or
begins with PREFIX and a dot ("--only 6.4" runs 6.4.1-6.4.4, "--only 1"
family 1 but not 10); it may be given more than once.  --limit is the
server's limit on a message (64 MiB, as in the C test's echo server and
the peers of tests/ws/peers), for the 9.10 cases.  --compressed-from is
for 12 and 13: every echo of that many bytes or more must come compressed
(the threshold of a server that compresses; by default not checked).

The families, numbered after Autobahn's (the lengths, payloads and UTF-8
sequences are this program's own):

  1  framing: text and binary messages of the edge lengths, chopped writes
     (1.3: an unmasked frame; messages back to back)
  2  pings and pongs (2.12: a ping during a large echo)
  3  reserved bits (3.8: every bit pattern on every kind of frame)
  4  reserved opcodes (4.3: each of them, with FIN and without)
  5  fragmentation (5.21-5.23: many and empty fragments, a binary inside
     a binary)
  6  UTF-8: 6.1-6.4 as Autobahn's, then groups 6.5-6.23 of sequences, each
     whole in one frame (6.G.N), a byte per fragment (6.G.N.b, where an
     invalid one must fail fast) and, up to 16 bytes, split in two
     fragments at every position (6.G.N.s)
  7  the closing handshake and close codes
  9  limits and performance, at Autobahn's sizes (messages up to 16 MiB,
     4 MiB in frames of 64 bytes to 4 MiB, 1 MiB in writes of 64 bytes
     up, 1000 round trips); 9.9: 1000 messages back to back; 9.10: the
     server's limit (1009 past it)
  10 misc: a message fragmented by autobahn itself (autoFragmentSize)
  12 permessage-deflate (RFC 7692), autobahn's default offer: 1000 round
     trips of messages of 16 bytes to 128 KiB, whole or in frames of 256,
     of five kinds of payload (JSON, a bitmap, prose, HTML, a PDF-like mix
     of ASCII and deflated streams)
  13 the same with JSON and seven offers (server_no_context_takeover,
     server_max_window_bits 9 and 15, alone and together, three offers)
  Families 12 and 13 need a server with permessage-deflate on: their
  cases fail when it is not agreed.

Each case runs on connections of its own and checks what RFC 6455 (and
Autobahn's expectations) require of the server: the messages echoed (bytes
and type), the pongs, and for a violation the code of the server's close
frame and that the server then closes the TCP connection.  A case that
passes ends as Autobahn's do: we close with 1000, the server must answer
with a close frame and then close the TCP connection itself.  Where
Autobahn accepts two behaviours (its NON-STRICT and INFORMATIONAL
outcomes), both pass, and the "ok" line says which one was seen; so does
it for 2.10/2.11, where the RFC allows fewer pongs than Autobahn wants.

Output, one line per case, then a summary; the exit status is 0 only if no
case failed:

  ok <id> <description>
  FAIL <id> <description>: <why>
  autobahn: <passed> passed, <failed> failed

Every case is bounded in time (CASE_SECONDS, BIG_CASE_SECONDS in family
9); a case that runs out fails and the next one starts on new
connections.  Against nghttpw's echo server families 1-10 take about
15 s; all of 12 and 13 (216 cases of 1000 round trips) over seven
minutes, see tests/ws_autobahn_test.c for the subset it runs.
"""

import argparse
import asyncio
import functools
import os
import socket
import sys
import urllib.parse

import txaio

txaio.use_asyncio()

from autobahn.asyncio.websocket import (  # noqa: E402 (txaio first)
    WebSocketClientFactory,
    WebSocketClientProtocol,
)
from autobahn.websocket.compress import (  # noqa: E402
    PerMessageDeflate,
    PerMessageDeflateOffer,
    PerMessageDeflateResponseAccept,
)

CASE_SECONDS = 5.0  # the bound on one case
BIG_CASE_SECONDS = 20.0  # the bound on one case of family 9
FAIL_FAST_SECONDS = 1.0  # how long a fail-fast case waits before sending the rest

OP_CONT, OP_TEXT, OP_BINARY = 0, 1, 2
OP_CLOSE, OP_PING, OP_PONG = 8, 9, 10

NORMAL = 1000
PROTOCOL_ERROR = 1002
INVALID_DATA = 1007
TOO_BIG = 1009

KIB = 1024
MIB = 1024 * 1024
LIMIT = 64 * MIB  # the server's limit on a message and a frame (--limit)

# "κόσμε" as in Markus Kuhn's UTF-8 test file (which Autobahn's 6.x
# follows): its ό is U+1F79, three bytes.
KOSME = bytes.fromhex("ce ba e1 bd b9 cf 83 ce bc ce b5")


class CaseFailed(Exception):
    """A case's expectation was not met; the message says how."""


# ------------------------------------------------------------ what we see


def brief(b):
    """A short picture of some bytes for a failure message."""
    if len(b) <= 24:
        return b.hex(" ") if b else "''"
    return b[:12].hex(" ") + " ..."


def show(ev):
    kind = ev[0]
    if kind == "msg":
        return f"{'binary' if ev[2] else 'text'}[{len(ev[1])}]({brief(ev[1])})"
    return f"{kind}[{len(ev[1])}]({brief(ev[1])})"  # ping, pong


def show_all(evs):
    return "[" + ", ".join(show(e) for e in evs) + "]"


def text(b):
    return ("msg", b, False)


def binary(b):
    return ("msg", b, True)


def pong(b):
    return ("pong", b)


class Writer:
    """autobahn's transport, with our own writing: the asyncio transport
    reads, and we write through a duplicate of its socket.

    Two reasons.  The writes made in one turn of the loop go to the kernel
    together at its end, as with Twisted (which Autobahn's fuzzing client
    runs on), so frames sent back to back reach the server together.  And
    a write the server no longer takes (it failed the connection and
    reset it for the bytes it left unread) is dropped: asyncio would end
    the connection on it, without reading the close frame that came before
    the reset and that is what the case checks."""

    def __init__(self, transport, loop):
        self._inner = transport
        self._loop = loop
        fd = os.dup(transport.get_extra_info("socket").fileno())
        self._sock = socket.socket(fileno=fd)
        self._sock.setblocking(False)
        self._buf = bytearray()
        self._off = 0  # what of _buf is out
        self._flush_due = False
        self._watching = False
        self.broken = False

    def write(self, data):
        if self.broken or self._sock is None:
            return
        self._buf += data
        if not self._flush_due and not self._watching:
            self._flush_due = True
            self._loop.call_soon(self._flush)

    def _flush(self):
        self._flush_due = False
        while self._off < len(self._buf) and self._sock is not None:
            try:
                with memoryview(self._buf) as mv, mv[self._off:] as rest:
                    self._off += self._sock.send(rest)
            except (BlockingIOError, InterruptedError):
                if not self._watching:
                    self._watching = True
                    self._loop.add_writer(self._sock.fileno(), self._flush)
                return
            except OSError:
                self.broken = True  # the server is gone: the rest is dropped
                break
        self._buf.clear()
        self._off = 0
        self._unwatch()

    def _unwatch(self):
        if self._watching:
            self._watching = False
            self._loop.remove_writer(self._sock.fileno())

    def get_write_buffer_size(self):
        return len(self._buf) - self._off

    def shut(self):
        """Our end of the socket goes (the asyncio transport has its own)."""
        if self._sock is not None:
            self._unwatch()
            self._sock.close()
            self._sock = None

    def close(self):
        self._flush()
        self.shut()
        self._inner.close()

    def abort(self):
        self.shut()
        self._inner.abort()

    def __getattr__(self, name):
        return getattr(self._inner, name)


class Probe(WebSocketClientProtocol):
    """autobahn's client protocol, recording what the server sends: its
    messages, pongs and pings (in order), its close frame, and the end of
    the TCP connection (and who ended it)."""

    def __init__(self):
        super().__init__()
        self.events = []  # ("msg", bytes, is_binary) | ("pong", b) | ("ping", b)
        self.close_seen = None  # (code or None, reason bytes, after ours?)
        self.lost = False
        self.lost_by_me = None
        self.sent_close = False  # a close of ours went out
        self.changed = asyncio.Event()
        self.opened = asyncio.get_running_loop().create_future()
        self.ctx = None
        self.compressed = 0  # messages from the server with RSV1 (deflated)

    # asyncio's and autobahn's callbacks

    def connection_made(self, transport):
        self.writer = Writer(transport, asyncio.get_running_loop())
        super().connection_made(self.writer)

    def onOpen(self):
        if not self.opened.done():
            self.opened.set_result(True)

    def onMessageBegin(self, isBinary):
        # autobahn has just read the first frame's RSV1 (onFrameBegin).
        if self._isMessageCompressed:
            self.compressed += 1
        super().onMessageBegin(isBinary)

    def onMessage(self, payload, isBinary):
        self._note(("msg", bytes(payload), bool(isBinary)))

    def onPing(self, payload):
        self._note(("ping", bytes(payload)))
        super().onPing(payload)

    def onPong(self, payload):
        self._note(("pong", bytes(payload)))

    def onCloseFrame(self, code, reasonRaw):
        if self.close_seen is None:
            self.close_seen = (code, reasonRaw or b"", self.sent_close)
            self._note(None)
        return super().onCloseFrame(code, reasonRaw)

    def _connectionLost(self, reason):
        self.writer.shut()
        if not self.lost:
            self.lost = True
            self.lost_by_me = bool(self.droppedByMe)
            self._note(None)
        if not self.opened.done():
            self.opened.set_exception(CaseFailed("the opening handshake failed"))
        super()._connectionLost(reason)

    def _note(self, ev):
        if ev is not None:
            self.events.append(ev)
        self.changed.set()

    # what the cases call

    def replies(self):
        """Messages, pongs and pings from the server, in order."""
        return list(self.events)

    def frame(self, op, payload=b"", fin=True, rsv=0, chop=None, sync=False):
        """One frame exactly as given (masked, as a client's must be):
        autobahn's sendFrame checks nothing."""
        if op == OP_CLOSE:
            self.sent_close = True
        self.sendFrame(opcode=op, payload=payload, fin=fin, rsv=rsv,
                       chopsize=chop, sync=sync)

    def close_payload(self, payload, chop=None):
        self.frame(OP_CLOSE, payload, chop=chop)

    def close_normal(self):
        self.sent_close = True
        self.sendClose(NORMAL)

    def done(self):
        return self.close_seen is not None or self.lost

    async def until(self, pred, seconds=None):
        """Waits for pred() to hold: True, or False after seconds (or at the
        case's deadline)."""
        loop = asyncio.get_running_loop()
        end = self.ctx.deadline
        if seconds is not None:
            end = min(end, loop.time() + seconds)
        while not pred():
            left = end - loop.time()
            if left <= 0:
                return False
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                pass
        return True

    async def wait(self, pred, what):
        """Waits for pred() until the case's deadline, or fails the case."""
        if not await self.until(pred):
            raise CaseFailed(f"timed out waiting for {what}; got {self.story()}")

    async def drained(self):
        """Until everything queued has been handed to the kernel (chopped
        and synchronous writes go out a piece per loop turn)."""
        loop = asyncio.get_running_loop()
        while (self.send_queue or self.triggered or
               (self.transport is not None and
                self.transport.get_write_buffer_size() > 0)):
            if self.transport is None or loop.time() > self.ctx.deadline:
                return
            await asyncio.sleep(0.001)

    def story(self):
        s = show_all(self.events)
        if self.close_seen is not None:
            s += f", close {self.close_seen[0]}"
        if self.lost:
            s += ", TCP closed by " + ("us" if self.lost_by_me else "the server")
        return s


class Ctx:
    """One case's connections and deadline."""

    def __init__(self, url, seconds):
        self.url = url
        u = urllib.parse.urlsplit(url)
        self.host = u.hostname or "127.0.0.1"
        self.port = u.port or 80
        self.deadline = asyncio.get_running_loop().time() + seconds
        self.probes = []

    async def open(self, **options):
        """A new connection, its opening handshake done."""
        loop = asyncio.get_running_loop()
        factory = WebSocketClientFactory(self.url, loop=loop)
        factory.protocol = Probe
        opts = dict(
            failByDrop=False,  # answer a server's close, do not just drop
            utf8validateIncoming=False,  # we compare the bytes ourselves
            openHandshakeTimeout=CASE_SECONDS,
            closeHandshakeTimeout=CASE_SECONDS,
            serverConnectionDropTimeout=CASE_SECONDS,  # the server must drop first
            maxFramePayloadSize=0,
            maxMessagePayloadSize=0,
            tcpNoDelay=True,
        )
        opts.update(options)
        factory.setProtocolOptions(**opts)
        left = self.deadline - loop.time()
        try:
            _, p = await asyncio.wait_for(
                loop.create_connection(factory, self.host, self.port), left)
            p.ctx = self
            self.probes.append(p)
            await asyncio.wait_for(asyncio.shield(p.opened), self.deadline - loop.time())
        except asyncio.TimeoutError:
            raise CaseFailed("the opening handshake timed out") from None
        except OSError as e:
            raise CaseFailed(f"cannot connect: {e}") from None
        return p

    def abort_all(self):
        for p in self.probes:
            if p.transport is not None:
                p.transport.abort()


# ------------------------------------------------------------ endings


def match(s, strict, *others):
    """The server's messages and pongs must be `strict`, or one of `others`
    ((events, note) pairs: Autobahn's NON-STRICT or INFORMATIONAL
    outcomes).  Returns the note of the outcome seen ("" when strict)."""
    got = s.replies()
    if got == list(strict):
        return ""
    for evs, note in others:
        if got == list(evs):
            return note
    raise CaseFailed(f"the server sent {show_all(got)}, expected {show_all(strict)}"
                     + "".join(f" or {show_all(evs)}" for evs, _ in others))


async def passes(s, strict, *others, codes=(NORMAL,), ready=None, judge=None):
    """The ending of a case the server passes: once its replies are in (or
    ready() holds), we close with 1000; the server must answer with a close
    frame whose code is in codes, then close the TCP connection itself."""
    if ready is None:
        ready = lambda: len(s.replies()) >= len(strict)  # noqa: E731
    await s.wait(lambda: ready() or s.done(), "the server's replies")
    if s.close_seen is not None and not s.close_seen[2]:
        raise CaseFailed(f"the server closed first with {s.close_seen[0]}; got {s.story()}")
    if not s.done():
        s.close_normal()
    return await closed_by_server(s, codes, strict, *others, reply=True, judge=judge)


async def fails(s, codes, strict=(), *others):
    """The ending of a case where the server must fail the connection: a
    close frame with a code in codes, then the TCP connection closed by the
    server; before it, the messages and pongs of strict (or others)."""
    return await closed_by_server(s, codes, strict, *others, reply=False)


async def closed_by_server(s, codes, strict, *others, reply, judge=None):
    """The server's close frame (with a code in codes; an answer to ours if
    reply), then the TCP connection closed by the server; its messages and
    pongs as match() or judge(replies) (which returns a note or raises)
    says."""
    alts = [list(strict)] + [list(evs) for evs, _ in others]

    def hopeless():  # what came already matches no outcome: no need to wait
        got = s.replies()
        return judge is None and not any(got == alt[:len(got)] for alt in alts)
    await s.wait(lambda: s.lost or hopeless(), "the server to close the connection")
    if not s.lost:
        match(s, strict, *others)  # raises
    if s.close_seen is None:
        raise CaseFailed(f"the TCP connection ended without a close frame; got {s.story()}")
    if reply and not s.close_seen[2]:
        raise CaseFailed(f"the server closed first with {s.close_seen[0]}; got {s.story()}")
    if s.close_seen[0] not in codes:
        want = " or ".join("no code" if c is None else str(c) for c in codes)
        raise CaseFailed(f"the server closed with {s.close_seen[0]}, expected {want}; got {s.story()}")
    if s.lost_by_me:
        raise CaseFailed("the server did not close the TCP connection after its close frame")
    note = judge(s.replies()) if judge is not None else match(s, strict, *others)
    if s.close_seen[0] != codes[0]:
        note += f" (the other accepted close code: {s.close_seen[0]})"
    return note


async def fail_fast(s, code, rest, strict=()):
    """The bad bytes are out: the server should fail before we send the rest
    (Autobahn's strict outcome).  A server that fails only once the rest
    is in is Autobahn's NON-STRICT outcome, which passes too."""
    await s.drained()
    if await s.until(s.done, FAIL_FAST_SECONDS):
        return await fails(s, (code,), strict)
    rest()
    return await fails(s, (code,), strict) + " (non-strict: failed only after the rest)"


# ------------------------------------------------------------ registry

CASES = []  # (id, description, body, seconds)


def case(cid, desc, seconds=CASE_SECONDS):
    def reg(fn):
        CASES.append((cid, desc, fn, seconds))
        return fn
    return reg


def add(cid, desc, fn, seconds=CASE_SECONDS):
    CASES.append((cid, desc, fn, seconds))


ASCII_UNIT = bytes(0x21 + (i * 7 + i // 94) % 94 for i in range(4099))
BYTE_UNIT = bytes((i * 131 + (i >> 8)) & 0xFF for i in range(65537))


def repeat(unit, n, seed):
    k = (seed * 37) % len(unit)
    u = unit[k:] + unit[:k]
    return (u * (n // len(u) + 1))[:n]


def pattern(n, seed=0):
    """n bytes of printable ASCII (valid as text and as binary), varied by seed."""
    return repeat(ASCII_UNIT, n, seed)


def noise(n, seed=0):
    """n bytes of every value (for binary only), varied by seed."""
    return repeat(BYTE_UNIT, n, seed)


# ------------------------------------------------------------ 1: framing

LENGTHS = [0, 125, 126, 127, 128, 65535, 65536]


def family_1():
    for sub, op, kind, make, ctor in ((1, OP_TEXT, "text", pattern, text),
                                      (2, OP_BINARY, "binary", noise, binary)):
        for i, n in enumerate(LENGTHS, 1):
            async def body(ctx, n=n, op=op, make=make, ctor=ctor):
                s = await ctx.open()
                payload = make(n)
                s.frame(op, payload)
                return await passes(s, [ctor(payload)])
            add(f"1.{sub}.{i}", f"{kind} message of {n} bytes, one frame", body)

        async def chopped(ctx, op=op, make=make, ctor=ctor):
            s = await ctx.open()
            payload = make(65536, 3)
            s.frame(op, payload, chop=997)
            return await passes(s, [ctor(payload)])
        add(f"1.{sub}.8", f"{kind} message of 65536 bytes written in chops of 997", chopped)

    @case("1.3.1", "an unmasked text frame from a client: 1002 (RFC 6455 5.1)")
    async def _(ctx):
        s = await ctx.open()
        s.maskClientFrames = False
        s.frame(OP_TEXT, b"not masked")
        s.maskClientFrames = True
        return await fails(s, (PROTOCOL_ERROR,))

    @case("1.3.2", "text then binary then text, back to back: three echoes in order")
    async def _(ctx):
        s = await ctx.open()
        a, b, c = pattern(300), noise(70000), pattern(5, 9)
        s.frame(OP_TEXT, a)
        s.frame(OP_BINARY, b)
        s.frame(OP_TEXT, c)
        return await passes(s, [text(a), binary(b), text(c)])


# ------------------------------------------------------------ 2: pings and pongs


def family_2():
    pings = [
        ("2.1", "ping with no payload", b""),
        ("2.2", "ping with a text payload", b"Hello, world!"),
        ("2.3", "ping with a binary payload", bytes([0x00, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF])),
        ("2.4", "ping with 125 bytes of binary payload", b"\xfe" * 125),
    ]
    for cid, desc, payload in pings:
        async def body(ctx, payload=payload):
            s = await ctx.open()
            s.frame(OP_PING, payload)
            return await passes(s, [pong(payload)])
        add(cid, desc + ": the pong echoes it", body)

    @case("2.5", "ping with 126 bytes of payload: 1002, no pong")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_PING, b"\xfe" * 126)
        return await fails(s, (PROTOCOL_ERROR,))

    @case("2.6", "ping with 125 bytes written a byte at a time: its pong")
    async def _(ctx):
        s = await ctx.open()
        payload = bytes(range(125))
        s.frame(OP_PING, payload, chop=1)
        return await passes(s, [pong(payload)])

    @case("2.7", "unsolicited pong without payload: nothing comes back")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_PONG, b"")
        return await passes(s, [])

    @case("2.8", "unsolicited pong with payload: nothing comes back")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_PONG, b"unsolicited pong payload")
        return await passes(s, [])

    @case("2.9", "unsolicited pong, then a ping: only the ping's pong")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_PONG, b"unsolicited pong payload")
        s.frame(OP_PING, b"ping payload")
        return await passes(s, [pong(b"ping payload")])

    async def ten_pings(ctx, chop):
        # Autobahn's 2.10/2.11 want ten pongs and say this "is not required
        # by the Spec": RFC 6455 5.5.3 lets an endpoint answer only the most
        # recent of the pings it has not answered yet.  So: pongs for our
        # payloads, in order, none twice, the last ping's among them; all
        # ten is Autobahn's strict outcome, fewer the RFC's.
        s = await ctx.open()
        payloads = [f"payload-{i}".encode() for i in range(10)]
        for p in payloads:
            s.frame(OP_PING, p, chop=chop)

        def judge(got):
            idx = [payloads.index(e[1]) if e[0] == "pong" and e[1] in payloads else -1
                   for e in got]
            if not idx or -1 in idx or idx != sorted(set(idx)) or idx[-1] != 9:
                raise CaseFailed(f"the server sent {show_all(got)}, expected pongs for "
                                 "payload-0..9 in order, the last one's included")
            if len(idx) == 10:
                return ""
            return f" (RFC 6455 5.5.3, not Autobahn-strict: pongs for pings {idx} only)"
        return await passes(s, [], ready=lambda: pong(payloads[-1]) in s.replies(),
                            judge=judge)

    add("2.10", "10 pings in a row: their pongs, in order, the last one's included",
        lambda ctx: ten_pings(ctx, None))
    add("2.11", "10 pings written a byte at a time: their pongs, the last one's included",
        lambda ctx: ten_pings(ctx, 1))

    @case("2.12", "a binary ping while a message is being echoed: its pong, and the echo")
    async def _(ctx):
        s = await ctx.open()
        big = noise(1 * MIB)
        s.frame(OP_BINARY, big)
        s.frame(OP_PING, b"\x00\x01\x02\xff")
        # The pong may come before or after the echo (the server may not
        # interleave control frames inside its own data frame).
        return await passes(s, [binary(big), pong(b"\x00\x01\x02\xff")],
                            ([pong(b"\x00\x01\x02\xff"), binary(big)], " (the pong before the echo)"))


# ------------------------------------------------------------ 3: reserved bits

HELLO = b"Hello, world!"


def family_3():
    @case("3.1", "text frame with RSV=1: 1002, nothing echoed")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_TEXT, HELLO, rsv=1)
        return await fails(s, (PROTOCOL_ERROR,))

    # Autobahn 3.2-3.4: a good message, a bad one, a ping, back to back.  The
    # good one's echo is expected; failing before echoing it is NON-STRICT.
    # The ping after the bad frame must never be answered.
    for cid, rsv, desc, chop, sync in (
            ("3.2", 2, "good text, text with RSV=2, ping", None, False),
            ("3.3", 3, "good text, text with RSV=3, ping, a frame at a time", None, True),
            ("3.4", 4, "good text, text with RSV=4, ping, a byte at a time", 1, False)):
        async def body(ctx, rsv=rsv, chop=chop, sync=sync):
            s = await ctx.open()
            s.frame(OP_TEXT, HELLO, chop=chop, sync=sync)
            s.frame(OP_TEXT, HELLO, rsv=rsv, chop=chop, sync=sync)
            s.frame(OP_PING, b"", chop=chop, sync=sync)
            return await fails(s, (PROTOCOL_ERROR,), [text(HELLO)],
                               ([], " (non-strict: failed before echoing)"))
        add(cid, desc + ": 1002, no pong", body)

    @case("3.5", "binary frame with RSV=5: 1002, nothing echoed")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_BINARY, bytes(range(256)), rsv=5)
        return await fails(s, (PROTOCOL_ERROR,))

    @case("3.6", "ping with RSV=6: 1002, no pong")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_PING, HELLO, rsv=6)
        return await fails(s, (PROTOCOL_ERROR,))

    @case("3.7", "close with RSV=7: 1002")
    async def _(ctx):
        s = await ctx.open()
        s.sendFrame(opcode=OP_CLOSE, payload=b"\x03\xe8", rsv=7)
        return await fails(s, (PROTOCOL_ERROR,))

    # Every reserved bit pattern on every kind of frame, after a message
    # whose echo we wait for, then a ping: 1002, and the ping unanswered.
    kinds = [("text", OP_TEXT, HELLO), ("binary", OP_BINARY, b"\x00\xff"),
             ("ping", OP_PING, b"ping"), ("pong", OP_PONG, b"pong"),
             ("close", OP_CLOSE, b"\x03\xe8"), ("continuation", OP_CONT, b"cont")]
    n = 0
    for rsv in range(1, 8):
        for kname, op, payload in kinds:
            n += 1

            async def body(ctx, rsv=rsv, op=op, payload=payload):
                s = await ctx.open()
                s.frame(OP_TEXT, b"before")
                await s.wait(lambda: s.replies() or s.done(), "the first echo")
                s.sendFrame(opcode=op, payload=payload, rsv=rsv)
                s.frame(OP_PING, b"after")
                return await fails(s, (PROTOCOL_ERROR,), [text(b"before")])
            add(f"3.8.{n}", f"{kname} frame with RSV={rsv} after an echo: 1002, no pong", body)


# ------------------------------------------------------------ 4: reserved opcodes


def family_4():
    for fam, ops in ((1, (3, 4, 5, 6, 7)), (2, (11, 12, 13, 14, 15))):
        kind = "non-control" if fam == 1 else "control"
        for i, op in enumerate(ops, 1):
            if i <= 2:
                payload = b"" if i == 1 else b"reserved opcode payload"

                async def body(ctx, op=op, payload=payload):
                    s = await ctx.open()
                    s.frame(op, payload)
                    return await fails(s, (PROTOCOL_ERROR,))
                desc = f"reserved {kind} opcode {op}" + (" with payload" if payload else "")
            else:
                # Autobahn 4.x.3-5: a good message first; failing before
                # its echo is NON-STRICT.
                async def body(ctx, op=op, i=i):
                    s = await ctx.open()
                    s.frame(OP_TEXT, HELLO)
                    s.frame(op, b"" if i == 3 else b"reserved opcode payload")
                    s.frame(OP_PING, b"")
                    return await fails(s, (PROTOCOL_ERROR,), [text(HELLO)],
                                       ([], " (non-strict: failed before echoing)"))
                desc = f"text, reserved {kind} opcode {op}, ping"
            add(f"4.{fam}.{i}", desc + ": 1002, nothing after", body)
    # Every reserved opcode, FIN set and not, after an echo we wait for.
    n = 0
    for op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15):
        for fin in (True, False):
            n += 1

            async def body(ctx, op=op, fin=fin):
                s = await ctx.open()
                s.frame(OP_BINARY, b"before")
                await s.wait(lambda: s.replies() or s.done(), "the first echo")
                s.frame(op, b"x", fin=fin)
                s.frame(OP_TEXT, b"after")
                return await fails(s, (PROTOCOL_ERROR,), [binary(b"before")])
            add(f"4.3.{n}", f"opcode {op}{'' if fin else ' without FIN'} after an echo: "
                "1002, nothing after", body)


# ------------------------------------------------------------ 5: fragmentation


def family_5():
    @case("5.1", "ping in 2 fragments: 1002, no pong")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_PING, b"fragment1", fin=False)
        s.frame(OP_CONT, b"fragment2")
        return await fails(s, (PROTOCOL_ERROR,))

    @case("5.2", "pong in 2 fragments: 1002")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_PONG, b"fragment1", fin=False)
        s.frame(OP_CONT, b"fragment2")
        return await fails(s, (PROTOCOL_ERROR,))

    for cid, how, chop, sync in (("5.3", "", None, False),
                                 ("5.4", ", a frame at a time", None, True),
                                 ("5.5", ", a byte at a time", 1, False)):
        async def body(ctx, chop=chop, sync=sync):
            s = await ctx.open()
            s.frame(OP_TEXT, b"fragment1", fin=False, chop=chop, sync=sync)
            s.frame(OP_CONT, b"fragment2", chop=chop, sync=sync)
            return await passes(s, [text(b"fragment1fragment2")])
        add(cid, "text in 2 fragments" + how + ": one message", body)

    for cid, how, chop, sync in (("5.6", "", None, False),
                                 ("5.7", ", a frame at a time", None, True),
                                 ("5.8", ", a byte at a time", 1, False)):
        async def body(ctx, chop=chop, sync=sync):
            s = await ctx.open()
            s.frame(OP_TEXT, b"fragment1", fin=False, chop=chop, sync=sync)
            s.frame(OP_PING, b"ping payload", chop=chop, sync=sync)
            s.frame(OP_CONT, b"fragment2", chop=chop, sync=sync)
            return await passes(s, [pong(b"ping payload"), text(b"fragment1fragment2")])
        add(cid, "text in 2 fragments, a ping between" + how + ": pong, then the message", body)

    for cid, fin, how, chop, sync in (("5.9", True, "", None, False),
                                      ("5.10", True, ", a frame at a time", None, True),
                                      ("5.11", True, ", a byte at a time", 1, False),
                                      ("5.12", False, "", None, False),
                                      ("5.13", False, ", a frame at a time", None, True),
                                      ("5.14", False, ", a byte at a time", 1, False)):
        async def body(ctx, fin=fin, chop=chop, sync=sync):
            s = await ctx.open()
            s.frame(OP_CONT, b"non-continuation payload", fin=fin, chop=chop, sync=sync)
            s.frame(OP_TEXT, HELLO, chop=chop, sync=sync)
            return await fails(s, (PROTOCOL_ERROR,))
        add(cid, f"continuation {'with' if fin else 'without'} FIN and no message begun, "
            f"then text{how}: 1002, nothing echoed", body)

    # Autobahn 5.15: the first message's echo is expected; failing before it
    # is NON-STRICT.
    @case("5.15", "text message in 2 fragments, then a continuation, then text: 1002")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_TEXT, b"fragment1", fin=False)
        s.frame(OP_CONT, b"fragment2")
        s.frame(OP_CONT, b"fragment3", fin=False)
        s.frame(OP_TEXT, b"fragment4")
        return await fails(s, (PROTOCOL_ERROR,), [text(b"fragment1fragment2")],
                           ([], " (non-strict: failed before echoing)"))

    for cid in ("5.16", "5.17"):
        async def body(ctx, fin_first=(cid == "5.17")):
            s = await ctx.open()
            for _ in range(2):
                s.frame(OP_CONT, b"fragment1", fin=fin_first)
                s.frame(OP_TEXT, b"fragment2", fin=False)
                s.frame(OP_CONT, b"fragment3")
            return await fails(s, (PROTOCOL_ERROR,))
        add(cid, "continuation" + (" with FIN" if cid == "5.17" else "") +
            " before any message, twice over: 1002, nothing echoed", body)

    @case("5.18", "text fragment, then a new text frame inside it: 1002, nothing echoed")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_TEXT, b"fragment1", fin=False)
        s.frame(OP_TEXT, b"fragment2")
        return await fails(s, (PROTOCOL_ERROR,))

    for cid, how, sync in (("5.19", "", False), ("5.20", ", a frame at a time", True)):
        async def body(ctx, sync=sync):
            s = await ctx.open()
            s.frame(OP_TEXT, b"fragment1", fin=False, sync=sync)
            s.frame(OP_CONT, b"fragment2", fin=False, sync=sync)
            s.frame(OP_PING, b"pongme 1!", sync=sync)
            # Autobahn pauses a second here: the first pong must come while
            # the message is still open.
            if not await s.until(lambda: s.replies() or s.done(), FAIL_FAST_SECONDS):
                raise CaseFailed("no pong for a ping inside an open message")
            s.frame(OP_CONT, b"fragment3", fin=False, sync=sync)
            s.frame(OP_CONT, b"fragment4", fin=False, sync=sync)
            s.frame(OP_PING, b"pongme 2!", sync=sync)
            s.frame(OP_CONT, b"fragment5", sync=sync)
            return await passes(s, [pong(b"pongme 1!"), pong(b"pongme 2!"),
                                    text(b"fragment1fragment2fragment3fragment4fragment5")])
        add(cid, "text in 5 fragments with 2 pings between" + how +
            ": pongs at once, then the message", body)

    @case("5.21", "binary in 100 fragments of 1 to 100 bytes: one message")
    async def _(ctx):
        s = await ctx.open()
        parts = [noise(i + 1, i) for i in range(100)]
        for i, p in enumerate(parts):
            s.frame(OP_BINARY if i == 0 else OP_CONT, p, fin=i == 99)
        return await passes(s, [binary(b"".join(parts))])

    @case("5.22", "text with empty fragments at the start, middle and end: one message")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_TEXT, b"", fin=False)
        s.frame(OP_CONT, b"abc", fin=False)
        s.frame(OP_CONT, b"", fin=False)
        s.frame(OP_CONT, b"def", fin=False)
        s.frame(OP_CONT, b"")
        return await passes(s, [text(b"abcdef")])

    @case("5.23", "binary fragment, then a binary frame inside it: 1002, nothing echoed")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_BINARY, b"\x01\x02", fin=False)
        s.frame(OP_BINARY, b"\x03")
        return await fails(s, (PROTOCOL_ERROR,))


# ------------------------------------------------------------ 6: UTF-8


def utf8_check(b):
    """Our own RFC 3629 check (Unicode's table of well-formed sequences):
    (index of the first byte at which b stops being the start of valid
    UTF-8, or None; whether b ends on a character boundary)."""
    need, lo, hi = 0, 0, 0
    for i, c in enumerate(b):
        if need == 0:
            if c < 0x80:
                continue
            if 0xC2 <= c <= 0xDF:
                need, lo, hi = 1, 0x80, 0xBF
            elif c == 0xE0:
                need, lo, hi = 2, 0xA0, 0xBF
            elif c == 0xED:  # not the surrogates D800-DFFF
                need, lo, hi = 2, 0x80, 0x9F
            elif 0xE1 <= c <= 0xEF:
                need, lo, hi = 2, 0x80, 0xBF
            elif c == 0xF0:  # not overlong
                need, lo, hi = 3, 0x90, 0xBF
            elif 0xF1 <= c <= 0xF3:
                need, lo, hi = 3, 0x80, 0xBF
            elif c == 0xF4:  # not past 10FFFF
                need, lo, hi = 3, 0x80, 0x8F
            else:
                return i, False
        else:
            if not lo <= c <= hi:
                return i, False
            need, lo, hi = need - 1, 0x80, 0xBF
    return None, need == 0


def utf8_valid(b):
    bad, whole = utf8_check(b)
    return bad is None and whole


def h(s):
    return bytes.fromhex(s)


# (group, description, sequence); validity is computed (utf8_check) and
# cross-checked against Python's own decoder at start-up.
UTF8_VECTORS = [
    (5, "κόσμε", KOSME),
    (5, "Hello-µ@ßöäüàá-UTF-8!!", "Hello-µ@ßöäüàá-UTF-8!!".encode()),
    (5, "text with a 4-byte emoji", "Hi 😀 there".encode()),
    (5, "1, 2, 3 and 4-byte characters", "a©€𝄞".encode()),
    (5, "one 4-byte emoji alone", "😀".encode()),
] + [
    (6, f"κόσμε cut to {n} byte{'s' if n > 1 else ''}", KOSME[:n])
    for n in range(1, len(KOSME) + 1)
] + [
    (7, "first 1-byte character U+0000", h("00")),
    (7, "first 2-byte character U+0080", h("c280")),
    (7, "first 3-byte character U+0800", h("e0a080")),
    (7, "first 4-byte character U+10000", h("f0908080")),
    (8, "first 5-byte sequence", h("f888808080")),
    (8, "first 6-byte sequence", h("fc8480808080")),
    (9, "last 1-byte character U+007F", h("7f")),
    (9, "last 2-byte character U+07FF", h("dfbf")),
    (9, "last 3-byte character U+FFFF", h("efbfbf")),
    (9, "last character U+10FFFF", h("f48fbfbf")),
    (10, "4-byte sequence past U+10FFFF (F7 BF BF BF)", h("f7bfbfbf")),
    (10, "5-byte sequence FB BF BF BF BF", h("fbbfbfbfbf")),
    (10, "6-byte sequence FD BF BF BF BF BF", h("fdbfbfbfbfbf")),
    (11, "U+D7FF, just below the surrogates", h("ed9fbf")),
    (11, "U+E000, just above the surrogates", h("ee8080")),
    (11, "U+FFFD", h("efbfbd")),
    (11, "U+10FFFF", h("f48fbfbf")),
    (11, "U+110000 (F4 90 80 80)", h("f4908080")),
    (11, "κόσμε then F4 90 80 80 then 'edited'", KOSME + h("f4908080") + b"edited"),
] + [
    (12, f"{n} unexpected continuation bytes", (h("80bf") * 4)[:n]) for n in range(1, 8)
] + [
    (12, "all 64 continuation bytes", bytes(range(0x80, 0xC0))),
    (13, "lonely 2-byte lead bytes C0-DF, each before a space",
     b"".join(bytes([c, 0x20]) for c in range(0xC0, 0xE0))),
    (13, "lonely 3-byte lead bytes E0-EF, each before a space",
     b"".join(bytes([c, 0x20]) for c in range(0xE0, 0xF0))),
    (13, "lonely 4-byte lead bytes F0-F7, each before a space",
     b"".join(bytes([c, 0x20]) for c in range(0xF0, 0xF8))),
    (13, "lonely 5-byte lead bytes F8-FB, each before a space",
     b"".join(bytes([c, 0x20]) for c in range(0xF8, 0xFC))),
    (13, "lonely 6-byte lead bytes FC-FD, each before a space", h("fc20fd20")),
    (13, "a lead byte C3 before ASCII", h("c341")),
    (14, "2-byte sequence C0 with its continuation missing", h("c0")),
    (14, "3-byte sequence E0 80 with its last byte missing", h("e080")),
    (14, "4-byte sequence F0 80 80 with its last byte missing", h("f08080")),
    (14, "5-byte sequence with its last byte missing", h("f8808080")),
    (14, "6-byte sequence with its last byte missing", h("fc80808080")),
    (14, "DF with its continuation missing", h("df")),
    (14, "EF BF with its last byte missing", h("efbf")),
    (14, "F7 BF BF with its last byte missing", h("f7bfbf")),
    (14, "FB BF BF BF with its last byte missing", h("fbbfbfbf")),
    (14, "FD BF BF BF BF with its last byte missing", h("fdbfbfbfbf")),
    (14, "truncated 2-byte character C3 at the end", b"abc" + h("c3")),
    (14, "truncated 3-byte character E2 82 at the end", b"abc" + h("e282")),
    (14, "truncated 4-byte emoji F0 9F 98 at the end", b"abc" + h("f09f98")),
    (15, "all the truncated sequences above, concatenated",
     h("c0e080f08080f8808080fc80808080dfefbff7bfbffbbfbfbffdbfbfbfbf")),
    (16, "impossible byte FE", h("fe")),
    (16, "impossible byte FF", h("ff")),
    (16, "impossible bytes FE FE FF FF", h("fefeffff")),
    (17, "overlong '/' C0 AF", h("c0af")),
    (17, "overlong '/' E0 80 AF", h("e080af")),
    (17, "overlong '/' F0 80 80 AF", h("f08080af")),
    (17, "overlong '/' F8 80 80 80 AF", h("f8808080af")),
    (17, "overlong '/' FC 80 80 80 80 AF", h("fc80808080af")),
    (18, "largest overlong 2-byte C1 BF", h("c1bf")),
    (18, "largest overlong 3-byte E0 9F BF", h("e09fbf")),
    (18, "largest overlong 4-byte F0 8F BF BF", h("f08fbfbf")),
    (18, "largest overlong 5-byte F8 87 BF BF BF", h("f887bfbfbf")),
    (18, "largest overlong 6-byte FC 83 BF BF BF BF", h("fc83bfbfbfbf")),
    (19, "overlong NUL C0 80", h("c080")),
    (19, "overlong NUL E0 80 80", h("e08080")),
    (19, "overlong NUL F0 80 80 80", h("f0808080")),
    (19, "overlong NUL F8 80 80 80 80", h("f880808080")),
    (19, "overlong NUL FC 80 80 80 80 80", h("fc8080808080")),
] + [
    (20, f"lone surrogate U+{cp:04X}", chr(cp).encode("utf-8", "surrogatepass"))
    for cp in (0xD800, 0xDB7F, 0xDB80, 0xDBFF, 0xDC00, 0xDF80, 0xDFFF)
] + [
    (21, f"surrogate pair U+{a:04X} U+{b:04X}",
     chr(a).encode("utf-8", "surrogatepass") + chr(b).encode("utf-8", "surrogatepass"))
    for a in (0xD800, 0xDB7F, 0xDB80, 0xDBFF) for b in (0xDC00, 0xDFFF)
] + [
    (22, f"noncharacters U+{p:X}FFFE and U+{p:X}FFFF",
     (chr(p * 0x10000 + 0xFFFE) + chr(p * 0x10000 + 0xFFFF)).encode()) for p in range(17)
] + [
    (22, "noncharacters U+FDD0 to U+FDEF", "".join(chr(c) for c in range(0xFDD0, 0xFDF0)).encode()),
    (23, "U+FFFD, the replacement character", h("efbfbd")),
    (23, "a byte order mark U+FEFF", h("efbbbf") + b"text"),
    (23, "NUL bytes inside text", b"a\x00b\x00\x00c"),
    (23, "ED 9F BF then EE 80 80: both sides of the surrogates", h("ed9fbfee8080")),
]

SPLIT2_MAX = 16  # split at every position into 2 frames: sequences up to this long


def family_6():
    for _, _, b in UTF8_VECTORS:
        try:
            py = b.decode("utf-8") is not None
        except UnicodeDecodeError:
            py = False
        assert py == utf8_valid(b), f"utf8_check disagrees with Python on {b.hex()}"

    @case("6.1.1", "empty text message: echoed")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_TEXT, b"")
        return await passes(s, [text(b"")])

    @case("6.1.2", "text message of 3 empty fragments: one empty message")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_TEXT, b"", fin=False)
        s.frame(OP_CONT, b"", fin=False)
        s.frame(OP_CONT, b"")
        return await passes(s, [text(b"")])

    @case("6.1.3", "text in 3 fragments, the first and last empty: one message")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_TEXT, b"", fin=False)
        s.frame(OP_CONT, b"middle frame payload", fin=False)
        s.frame(OP_CONT, b"")
        return await passes(s, [text(b"middle frame payload")])

    hello = "Hello-µ@ßöäüàá-UTF-8!!".encode()

    @case("6.2.1", "valid UTF-8 in one frame: echoed")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_TEXT, hello)
        return await passes(s, [text(hello)])

    @case("6.2.2", "valid UTF-8 in 2 fragments split between characters: one message")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_TEXT, hello[:12], fin=False)
        s.frame(OP_CONT, hello[12:])
        return await passes(s, [text(hello)])

    for cid, what, b in (("6.2.3", "Hello-µ@ßöäüàá-UTF-8!!", hello),
                         ("6.2.4", "κόσμε", KOSME)):
        async def body(ctx, b=b):
            s = await ctx.open()
            for i in range(len(b)):
                s.frame(OP_TEXT if i == 0 else OP_CONT, b[i:i + 1], fin=i == len(b) - 1)
            return await passes(s, [text(b)])
        add(cid, f"valid UTF-8 ({what}) a byte per fragment: one message", body)

    bad = KOSME + h("eda080") + b"edited"

    @case("6.3.1", "invalid UTF-8 (a surrogate) in one frame: 1007, nothing echoed")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_TEXT, bad)
        return await fails(s, (INVALID_DATA,))

    @case("6.3.2", "invalid UTF-8 (a surrogate) a byte per fragment: 1007, nothing echoed")
    async def _(ctx):
        s = await ctx.open()
        for i in range(len(bad)):
            s.frame(OP_TEXT if i == 0 else OP_CONT, bad[i:i + 1], fin=i == len(bad) - 1)
        return await fails(s, (INVALID_DATA,))

    @case("6.3.3", "the same bytes as a binary message: echoed unchecked")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_BINARY, bad)
        return await passes(s, [binary(bad)])

    # Autobahn 6.4.x: fail fast.  The server must close with 1007 once the
    # bad bytes are in, before the rest comes (NON-STRICT if only after).
    @case("6.4.1",
          "fail fast: fragment 'κόσμε', fragment F4 90 80 80, pause: 1007 before the rest")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_TEXT, KOSME, fin=False)
        s.frame(OP_CONT, h("f4908080"), fin=False)
        return await fail_fast(s, INVALID_DATA, lambda: s.frame(OP_CONT, b"edited"))

    @case("6.4.2", "fail fast: fragment 'κόσμε' F4, fragment 90, pause: 1007 before the rest")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_TEXT, KOSME + h("f4"), fin=False)
        s.frame(OP_CONT, h("90"), fin=False)
        return await fail_fast(s, INVALID_DATA, lambda: s.frame(OP_CONT, h("8080") + b"edited"))

    def streamed(s, now, later):
        """One text frame whose payload goes out piece by piece (autobahn's
        streaming API): the pieces of now at once; returns a function that
        sends those of later and ends the message."""
        s.beginMessage(isBinary=False)
        s.beginMessageFrame(sum(len(p) for p in now + later))
        for p in now:
            s.sendMessageFrameData(p, sync=True)

        def rest():
            for p in later:
                s.sendMessageFrameData(p, sync=True)
            s.endMessage()
        return rest

    for cid, what, first, second, third in (
            ("6.4.3", "'κόσμε', F4 90 80 80", KOSME, h("f4908080"), b"edited"),
            ("6.4.4", "'κόσμε' F4, 90", KOSME + h("f4"), h("90"), h("8080") + b"edited")):
        async def body(ctx, first=first, second=second, third=third):
            s = await ctx.open()
            rest = streamed(s, [first, second], [third])
            return await fail_fast(s, INVALID_DATA, rest)
        add(cid, f"fail fast inside one frame: {what}, pause: 1007 before the rest of the frame",
            body)

    # The sequences, by group: whole in one frame; a byte per fragment
    # (invalid ones must fail fast: once the first impossible byte is in);
    # and, for the shorter ones, split in 2 fragments at every position.
    counters = {}
    for group, desc, b in UTF8_VECTORS:
        counters[group] = counters.get(group, 0) + 1
        cid = f"6.{group}.{counters[group]}"
        good = utf8_valid(b)
        verdict = "valid: echoed" if good else "invalid: 1007"

        async def whole(ctx, b=b, good=good):
            s = await ctx.open()
            s.frame(OP_TEXT, b)
            if good:
                return await passes(s, [text(b)])
            return await fails(s, (INVALID_DATA,))
        add(cid, f"{desc}, one frame ({verdict})", whole)
        if len(b) < 2:
            continue

        async def bytewise(ctx, b=b, good=good):
            s = await ctx.open()
            n = len(b)

            def send(lo, hi):
                for i in range(lo, hi):
                    s.frame(OP_TEXT if i == 0 else OP_CONT, b[i:i + 1], fin=i == n - 1)
            if good:
                send(0, n)
                return await passes(s, [text(b)])
            stop, _ = utf8_check(b)
            if stop is None:
                send(0, n)  # only the end can show it: fails at FIN
                return await fails(s, (INVALID_DATA,))
            send(0, stop + 1)
            return await fail_fast(s, INVALID_DATA, lambda: send(stop + 1, n))
        if good:
            how = verdict
        elif utf8_check(b)[0] is None:
            how = "invalid only at its end: 1007"
        else:
            how = "invalid: 1007, fail fast"
        add(cid + ".b", f"{desc}, a byte per fragment ({how})", bytewise)
        if len(b) > SPLIT2_MAX:
            continue

        async def split2(ctx, b=b, good=good):
            if good:
                s = await ctx.open()
                for k in range(1, len(b)):
                    s.frame(OP_TEXT, b[:k], fin=False)
                    s.frame(OP_CONT, b[k:])
                return await passes(s, [text(b)] * (len(b) - 1))
            for k in range(1, len(b)):
                s = await ctx.open()
                s.frame(OP_TEXT, b[:k], fin=False)
                s.frame(OP_CONT, b[k:])
                try:
                    await fails(s, (INVALID_DATA,))
                except CaseFailed as e:
                    raise CaseFailed(f"split after byte {k}: {e}") from None
            return ""
        add(cid + ".s", f"{desc}, in 2 fragments split at every position ({verdict})", split2)


# ------------------------------------------------------------ 7: closing


def close_body(code, reason=b""):
    return code.to_bytes(2, "big") + reason


def family_7():
    @case("7.1.1", "text message, then a close: the echo, then the close answered")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_TEXT, b"Hello World!")
        return await passes(s, [text(b"Hello World!")])

    @case("7.1.2", "two closes: the first answered with 1000, the TCP connection closed")
    async def _(ctx):
        s = await ctx.open()
        s.close_payload(close_body(NORMAL))
        s.close_payload(close_body(NORMAL))
        return await closed_by_server(s, (NORMAL,), [], reply=True)

    @case("7.1.3", "close, then a ping: no pong after the close")
    async def _(ctx):
        s = await ctx.open()
        s.close_payload(close_body(NORMAL))
        s.frame(OP_PING, b"Hello World!")
        return await closed_by_server(s, (NORMAL,), [], reply=True)

    @case("7.1.4", "close, then a text message: nothing echoed after the close")
    async def _(ctx):
        s = await ctx.open()
        s.close_payload(close_body(NORMAL))
        s.frame(OP_TEXT, b"Hello World!")
        return await closed_by_server(s, (NORMAL,), [], reply=True)

    @case("7.1.5", "text fragment, close, the last fragment: no message, the close answered")
    async def _(ctx):
        s = await ctx.open()
        s.frame(OP_TEXT, b"fragment1", fin=False)
        s.close_payload(close_body(NORMAL))
        s.frame(OP_CONT, b"fragment2")
        return await closed_by_server(s, (NORMAL,), [], reply=True)

    # Autobahn 7.1.6 is INFORMATIONAL: a big message, a small one, a close
    # and a ping back to back; echoes may be cut off by the close, but what
    # comes must be whole, in order, and nothing after the close.
    @case("7.1.6", "256 KiB text, small text, close, ping: "
          "echoes (all, some or none), the close answered")
    async def _(ctx):
        s = await ctx.open()
        big = (b"BAsd7&jh23" * 26215)[:256 * KIB]
        s.frame(OP_TEXT, big)
        s.frame(OP_TEXT, b"Hello World!")
        s.close_payload(close_body(NORMAL))
        s.frame(OP_PING, b"Hello World!")
        return await closed_by_server(
            s, (NORMAL,), [text(big), text(b"Hello World!")],
            ([text(big)], " (informational: the small echo cut off by the close)"),
            ([], " (informational: no echo before the close)"), reply=True)

    # Autobahn 7.3.1: an empty close; the answer may be empty or say 1000.
    @case("7.3.1", "close with no payload: answered (no code or 1000)")
    async def _(ctx):
        s = await ctx.open()
        s.close_payload(b"")
        return await closed_by_server(s, (None, NORMAL), [], reply=True)

    @case("7.3.2", "close with a 1-byte payload: 1002")
    async def _(ctx):
        s = await ctx.open()
        s.close_payload(b"\x03")
        return await fails(s, (PROTOCOL_ERROR,))

    for cid, reason, desc in (("7.3.3", b"", "no reason"),
                              ("7.3.4", b"Hello World!", "a reason"),
                              ("7.3.5", b"*" * 123, "a 123-byte reason (the most there is room for)")):
        async def body(ctx, reason=reason):
            s = await ctx.open()
            s.close_payload(close_body(NORMAL, reason))
            return await closed_by_server(s, (NORMAL,), [], reply=True)
        add(cid, f"close 1000 with {desc}: answered with 1000", body)

    @case("7.3.6", "close 1000 with a 124-byte reason (payload 126): 1002")
    async def _(ctx):
        s = await ctx.open()
        s.close_payload(close_body(NORMAL, b"*" * 124))
        return await fails(s, (PROTOCOL_ERROR,))

    @case("7.3.7", "close 1000 with a 123-byte reason written a byte at a time: answered")
    async def _(ctx):
        s = await ctx.open()
        s.close_payload(close_body(NORMAL, "é".encode() * 61 + b"x"), chop=1)
        return await closed_by_server(s, (NORMAL,), [], reply=True)

    @case("7.5.1", "close 1000 with an invalid UTF-8 reason (a surrogate): 1007")
    async def _(ctx):
        s = await ctx.open()
        s.close_payload(close_body(NORMAL, KOSME + h("eda080") + b"edited"))
        return await fails(s, (INVALID_DATA,))

    @case("7.5.2", "close 1000 with a reason ending inside a character: 1007")
    async def _(ctx):
        s = await ctx.open()
        s.close_payload(close_body(NORMAL, b"bye " + h("e282")))
        return await fails(s, (INVALID_DATA,))

    @case("7.5.3", "close 1000 with a valid UTF-8 reason: answered with 1000")
    async def _(ctx):
        s = await ctx.open()
        s.close_payload(close_body(NORMAL, KOSME + "😀".encode()))
        return await closed_by_server(s, (NORMAL,), [], reply=True)

    # Autobahn 7.7.x accepts an answer with the same code or with 1000.
    for i, code in enumerate((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                              3000, 3999, 4000, 4999), 1):
        async def body(ctx, code=code):
            s = await ctx.open()
            s.close_payload(close_body(code))
            return await closed_by_server(s, (code, NORMAL), [], reply=True)
        add(f"7.7.{i}", f"close with valid code {code}: answered with {code}"
            + (" (or 1000)" if code != NORMAL else ""), body)

    for i, code in enumerate((0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000), 1):
        async def body(ctx, code=code):
            s = await ctx.open()
            s.close_payload(close_body(code))
            return await fails(s, (PROTOCOL_ERROR,))
        add(f"7.9.{i}", f"close with invalid code {code}: 1002", body)

    # Autobahn 7.13.x is INFORMATIONAL (RFC 6455 defines no code past
    # 4999): refusing with 1002 or answering both pass.
    @case("7.13.1", "close with code 65535: 1002 (informational: an answer passes too)")
    async def _(ctx):
        s = await ctx.open()
        s.close_payload(close_body(65535, b"bye"))
        return await closed_by_server(s, (PROTOCOL_ERROR, 65535, NORMAL), [], reply=False)

    @case("7.13.2", "close with code 6000 and a reason: 1002 (informational: an answer passes too)")
    async def _(ctx):
        s = await ctx.open()
        s.close_payload(close_body(6000, b"bye"))
        return await closed_by_server(s, (PROTOCOL_ERROR, 6000, NORMAL), [], reply=False)


# ------------------------------------------------------------ 9: limits


def family_9():
    sizes = [64 * KIB, 256 * KIB, 1 * MIB, 4 * MIB, 8 * MIB, 16 * MIB]
    for sub, op, kind, make, ctor in ((1, OP_TEXT, "text", pattern, text),
                                      (2, OP_BINARY, "binary", noise, binary)):
        for i, n in enumerate(sizes, 1):
            async def body(ctx, n=n, op=op, make=make, ctor=ctor):
                s = await ctx.open()
                payload = make(n, n)
                s.frame(op, payload)
                return await passes(s, [ctor(payload)])
            add(f"9.{sub}.{i}", f"{kind} message of {n // KIB} KiB in one frame", body,
                BIG_CASE_SECONDS)

    frames = [64, 256, 1 * KIB, 4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, 1 * MIB, 4 * MIB]
    for sub, op, kind, make, ctor in ((3, OP_TEXT, "text", pattern, text),
                                      (4, OP_BINARY, "binary", noise, binary)):
        for i, fsz in enumerate(frames, 1):
            async def body(ctx, fsz=fsz, op=op, make=make, ctor=ctor):
                s = await ctx.open()
                payload = make(4 * MIB, fsz)
                parts = [payload[j:j + fsz] for j in range(0, len(payload), fsz)]
                for j, p in enumerate(parts):
                    s.frame(op if j == 0 else OP_CONT, p, fin=j == len(parts) - 1)
                return await passes(s, [ctor(payload)])
            add(f"9.{sub}.{i}", f"{kind} message of 4 MiB in frames of {fsz} bytes",
                body, BIG_CASE_SECONDS)

    chops = [64, 128, 256, 512, 1 * KIB, 2 * KIB]
    for sub, op, kind, make, ctor in ((5, OP_TEXT, "text", pattern, text),
                                      (6, OP_BINARY, "binary", noise, binary)):
        for i, chop in enumerate(chops, 1):
            n = 1 * MIB

            async def body(ctx, n=n, chop=chop, op=op, make=make, ctor=ctor):
                s = await ctx.open()
                payload = make(n, chop)
                s.frame(op, payload, chop=chop)
                return await passes(s, [ctor(payload)])
            add(f"9.{sub}.{i}", f"{kind} message of {n // KIB} KiB written in chops of {chop} bytes",
                body, BIG_CASE_SECONDS)

    msg_sizes = [0, 16, 64, 256, 1 * KIB, 4 * KIB]
    count = 1000
    for sub, op, kind, make, ctor in ((7, OP_TEXT, "text", pattern, text),
                                      (8, OP_BINARY, "binary", noise, binary)):
        for i, n in enumerate(msg_sizes, 1):
            async def body(ctx, n=n, op=op, make=make, ctor=ctor):
                s = await ctx.open()
                want = []
                for j in range(count):
                    payload = make(n, j)
                    want.append(ctor(payload))
                    s.frame(op, payload)
                    await s.wait(lambda j=j: len(s.replies()) > j or s.done(), f"echo {j}")
                return await passes(s, want)
            add(f"9.{sub}.{i}", f"{count} {kind} messages of {n} bytes, each after the last's echo",
                body, BIG_CASE_SECONDS)

    @case("9.9.1", "1000 binary messages of 100 bytes back to back: 1000 echoes in order",
          BIG_CASE_SECONDS)
    async def _(ctx):
        s = await ctx.open()
        want = []
        for j in range(1000):
            payload = noise(100, j)
            want.append(binary(payload))
            s.frame(OP_BINARY, payload)
        return await passes(s, want)

    # The server's limit (the echo server of the C test takes messages and
    # frames up to 64 MiB, as do the peers of tests/ws/peers): past it,
    # 1009 (RFC 6455 7.4.1).  Refusing on the frame's head, before its
    # payload comes, is the strict outcome; after the payload, non-strict.
    @case("9.10.1", "binary frame announcing one byte past the limit: 1009", BIG_CASE_SECONDS)
    async def _(ctx):
        s = await ctx.open()
        s.beginMessage(isBinary=True)
        s.beginMessageFrame(LIMIT + 1)
        s.sendMessageFrameData(noise(1000))

        def rest():
            s.sendMessageFrameData(bytes(LIMIT + 1 - 1000))
            s.endMessage()
        return await fail_fast(s, TOO_BIG, rest)

    @case("9.10.2", "text in 2 frames, 1 MiB then enough for one byte past the limit: 1009",
          BIG_CASE_SECONDS)
    async def _(ctx):
        s = await ctx.open()
        s.beginMessage(isBinary=False)
        s.beginMessageFrame(MIB)
        s.sendMessageFrameData(pattern(MIB))
        s.beginMessageFrame(LIMIT + 1 - MIB)  # a continuation
        s.sendMessageFrameData(pattern(1000))

        def rest():
            s.sendMessageFrameData(pattern(LIMIT + 1 - MIB - 1000))
            s.endMessage()
        return await fail_fast(s, TOO_BIG, rest)

    @case("9.10.3", "binary message of exactly the limit, in 4 frames: echoed", BIG_CASE_SECONDS)
    async def _(ctx):
        s = await ctx.open()
        payload = noise(LIMIT, 11)
        q = LIMIT // 4
        for j in range(4):
            s.frame(OP_BINARY if j == 0 else OP_CONT, payload[j * q:(j + 1) * q], fin=j == 3)
        return await passes(s, [binary(payload)])


# ------------------------------------------------------------ 10: misc


def family_10():
    for i, op, kind, make, ctor in ((1, OP_TEXT, "text", pattern, text),
                                    (2, OP_BINARY, "binary", noise, binary)):
        async def body(ctx, op=op, make=make, ctor=ctor):
            # autobahn fragments what sendMessage sends into frames of 1300.
            s = await ctx.open(autoFragmentSize=1300)
            payload = make(65536, 5)
            s.sendMessage(payload, isBinary=op == OP_BINARY)
            return await passes(s, [ctor(payload)])
        add(f"10.1.{i}",
            f"{kind} message of 65536 bytes sent in frames of 1300 (autoFragmentSize)", body)


# ------------------------------------------------------------ 12, 13: compression

# Autobahn's 12.* and 13.* send 1000 messages, each once the last one's
# echo is in, over permessage-deflate (RFC 7692): 12 with its default
# offer and payloads of five kinds (12.1-12.5), 13 with one kind and
# seven offers (13.1-13.7); in each group, 18 cases of message sizes
# from 16 bytes to 128 KiB, the last 8 also auto-fragmented (in frames of
# 256 bytes of compressed data).  Here each message of a case is another
# slice of its payload (so that context takeover has something to find
# and something new), and the case checks what Autobahn's do (every echo
# back, the same) plus: permessage-deflate agreed, with the parameters
# the offer asked for; and with --compressed-from N, every echo of N
# bytes or more compressed (RSV1), as a server with a threshold of N
# must send them.

COMPRESSED_FROM = None  # --compressed-from
PMD_COUNT = 1000  # messages per case, as Autobahn's
PMD_SIZES = [16, 64, 256, 1 * KIB, 4 * KIB, 8 * KIB, 16 * KIB, 32 * KIB, 64 * KIB, 128 * KIB]
PMD_FRAGMENTED = [256, 1 * KIB, 4 * KIB, 8 * KIB, 16 * KIB, 32 * KIB, 64 * KIB, 128 * KIB]
PMD_FRAGMENT = 256
PMD_CORPUS = 1 * MIB  # the bytes each kind of payload is sliced from


class Lcg:
    """A small deterministic generator: the payloads are the same in every
    run."""

    def __init__(self, seed):
        self.x = seed

    def next(self, n):
        self.x = (self.x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return (self.x >> 33) % n


WORDS = ("the of and to in is was that for it with as his on be at by had "
         "which this from not but have are or they one were her all she "
         "there would their we him been has when who will more no if out so "
         "said what up its about into than them can only other new some "
         "could time these two may then do first any my now such like our "
         "over man me even most made after also did many before must through "
         "years where much your way well down should because each just those "
         "people how too little state good very make world still own see men "
         "work long get here between both life being under never day same "
         "another know while last might us great old year off come since "
         "against go came right used take three Wilhelm Faust Mephisto Gretchen "
         "compression window dictionary").split()


@functools.lru_cache(maxsize=None)
def corpus(kind):
    """PMD_CORPUS bytes of one kind of payload."""
    r = Lcg(len(kind))
    out, n = [], 0
    if kind == "json":
        while n < PMD_CORPUS:
            i = r.next(100000)
            rec = (f'{{"id":{i},"name":"{WORDS[r.next(len(WORDS))]} {WORDS[r.next(len(WORDS))]}",'
                   f'"score":{r.next(1000) / 10},"active":{"true" if r.next(2) else "false"},'
                   f'"tags":["{WORDS[r.next(len(WORDS))]}","{WORDS[r.next(len(WORDS))]}"]}},\n')
            out.append(rec)
            n += len(rec)
        return ("[" + "".join(out))[:PMD_CORPUS].encode()
    if kind == "text":
        while n < PMD_CORPUS:
            sentence = " ".join(WORDS[r.next(len(WORDS))] for _ in range(4 + r.next(12)))
            sentence = sentence[0].upper() + sentence[1:] + (".\n" if r.next(5) == 0 else ". ")
            out.append(sentence)
            n += len(sentence)
        return "".join(out)[:PMD_CORPUS].encode()
    if kind == "html":
        while n < PMD_CORPUS:
            row = (f'<tr class="row{r.next(3)}"><td><a href="/item/{r.next(100000)}">'
                   f'{WORDS[r.next(len(WORDS))]}</a></td><td>{r.next(1000)}</td>'
                   f'<td>{WORDS[r.next(len(WORDS))]} {WORDS[r.next(len(WORDS))]}</td></tr>\n')
            out.append(row)
            n += len(row)
        return "".join(out)[:PMD_CORPUS].encode()
    if kind == "bitmap":
        # A 1024x1024 grey image: smooth shapes, a little noise.
        rows = []
        for y in range(1024):
            noise_row = bytes(r.next(4) for _ in range(64)) * 16
            rows.append(bytes(((((x - 512) ** 2 + (y - 400) ** 2) >> 10) + (x >> 4) +
                               noise_row[x]) & 0xFF for x in range(1024)))
        return b"".join(rows)[:PMD_CORPUS]
    if kind == "document":
        # As a PDF is: object headers in ASCII between streams of
        # already-compressed (incompressible) bytes.
        import zlib
        while n < PMD_CORPUS:
            head = (f"{r.next(1000)} 0 obj\n<< /Type /XObject /Length {r.next(5000)} "
                    f"/Filter /FlateDecode >>\nstream\n").encode()
            body = zlib.compress(corpus("text")[r.next(PMD_CORPUS - 8192):][:4096 + r.next(4096)])
            chunk = head + body + b"\nendstream\nendobj\n"
            out.append(chunk)
            n += len(chunk)
        return b"".join(out)[:PMD_CORPUS]
    raise ValueError(kind)


def pmd_messages(kind, n):
    """The PMD_COUNT messages of n bytes of a case, slices of the kind's
    corpus: message j starts where j steps of 7919 bytes (a prime) lead."""
    c = corpus(kind)
    span = len(c) - n
    return [c[(j * 7919) % span:][:n] for j in range(PMD_COUNT)]


async def pmd_echo_all(s, kind, n, binary):
    """Each message sent once the last one's echo is in; each echo must be
    the message, and compressed if --compressed-from says so."""
    msgs = pmd_messages(kind, n)
    for j, m in enumerate(msgs):
        s.sendMessage(m, isBinary=binary)
        await s.wait(lambda: s.events or s.done(), f"echo {j} of {len(msgs)}")
        if not s.events:
            raise CaseFailed(f"no echo {j} of {len(msgs)}: {s.story()}")
        ev = s.events.pop(0)
        if ev != ("msg", m, binary):
            raise CaseFailed(f"echo {j}: {show(ev)}, sent {show(('msg', m, binary))}")
    if COMPRESSED_FROM is not None and n >= COMPRESSED_FROM and s.compressed != len(msgs):
        raise CaseFailed(f"{s.compressed} of {len(msgs)} echoes compressed, expected all "
                         f"(--compressed-from {COMPRESSED_FROM})")
    return await passes(s, [])


def pmd_accept(response):
    return PerMessageDeflateResponseAccept(response)


def pmd_agreed(s, offer):
    """permessage-deflate in use, with what offer asked of the server."""
    pmce = s._perMessageCompress
    if not isinstance(pmce, PerMessageDeflate):
        raise CaseFailed(f"permessage-deflate not agreed (extensions in use: "
                         f"{s.websocket_extensions_in_use})")
    if offer.request_no_context_takeover and not pmce.server_no_context_takeover:
        raise CaseFailed("server_no_context_takeover asked, not agreed")
    if offer.request_max_window_bits and pmce.server_max_window_bits > offer.request_max_window_bits:
        raise CaseFailed(f"server_max_window_bits={offer.request_max_window_bits} asked, "
                         f"{pmce.server_max_window_bits} agreed")


def pmd_cases(group, kind, binary, offers):
    """The 18 cases of a group: sizes whole, then auto-fragmented."""
    what = ", ".join(f"(no_context_takeover={o.request_no_context_takeover}, "
                     f"max_window_bits={o.request_max_window_bits})" for o in offers)
    sizes = [(n, 0) for n in PMD_SIZES] + [(n, PMD_FRAGMENT) for n in PMD_FRAGMENTED]
    for i, (n, frag) in enumerate(sizes, 1):
        async def body(ctx, n=n, frag=frag):
            # autobahn compresses a message whole, then cuts what
            # that made in frames of autoFragmentSize.
            s = await ctx.open(perMessageCompressionOffers=offers,
                               perMessageCompressionAccept=pmd_accept,
                               autoFragmentSize=frag)
            pmd_agreed(s, offers[0])
            return await pmd_echo_all(s, kind, n, binary)
        how = f", in frames of {frag} (autoFragmentSize)" if frag else ""
        add(f"{group}.{i}", f"{PMD_COUNT} {'binary' if binary else 'text'} messages of "
            f"{n} bytes of {kind}{how}, offers {what}", body, BIG_CASE_SECONDS)


def family_12():
    default = [PerMessageDeflateOffer()]
    for g, (kind, binary) in enumerate((("json", False), ("bitmap", True), ("text", False),
                                        ("html", False), ("document", True)), 1):
        pmd_cases(f"12.{g}", kind, binary, default)


def family_13():
    # (request_no_context_takeover, request_max_window_bits) of each offer,
    # as Autobahn's 13.1-13.7; autobahn's client takes no window of 8.
    groups = ([(False, 0)], [(True, 0)], [(False, 9)], [(False, 15)], [(True, 9)],
              [(True, 15)], [(True, 9), (True, 0), (False, 0)])
    for g, params in enumerate(groups, 1):
        offers = [PerMessageDeflateOffer(request_no_context_takeover=nct,
                                         request_max_window_bits=bits)
                  for nct, bits in params]
        pmd_cases(f"13.{g}", "json", False, offers)


# ------------------------------------------------------------ running

for fam in (family_1, family_2, family_3, family_4, family_5, family_6, family_7,
            family_9, family_10, family_12, family_13):
    fam()


def say(line):
    try:
        print(line, flush=True)
    except BrokenPipeError:
        pass


async def run_case(url, cid, desc, fn, seconds):
    ctx = Ctx(url, seconds)
    try:
        note = await asyncio.wait_for(fn(ctx), seconds + 1.0)
        say(f"ok {cid} {desc}{note or ''}")
        return True
    except CaseFailed as e:
        say(f"FAIL {cid} {desc}: {e}")
    except asyncio.TimeoutError:
        say(f"FAIL {cid} {desc}: timed out after {seconds:g} s")
    except Exception as e:  # a bug of ours, reported like a failure
        say(f"FAIL {cid} {desc}: {type(e).__name__}: {e}")
    finally:
        ctx.abort_all()
        await asyncio.sleep(0)
    return False


def selected(cid, prefixes):
    """--only: the id is a prefix, or begins with one and a dot."""
    return not prefixes or any(cid == p or cid.startswith(p.rstrip(".") + ".")
                               for p in prefixes)


async def main(url, prefixes):
    passed = failed = 0
    for cid, desc, fn, seconds in CASES:
        if not selected(cid, prefixes):
            continue
        if await run_case(url, cid, desc, fn, seconds):
            passed += 1
        else:
            failed += 1
    say(f"autobahn: {passed} passed, {failed} failed")
    return failed == 0 and passed > 0


def parse_args():
    ap = argparse.ArgumentParser(
        description="Autobahn fuzzingclient case families 1-7, 9, 10, 12, 13 against an "
        "echo server")
    ap.add_argument("url", help="the echo server, e.g. ws://127.0.0.1:9001/echo")
    ap.add_argument("--only", action="append", metavar="PREFIX", default=[],
                    help="run only the cases whose id is PREFIX or begins with PREFIX "
                    "and a dot (repeatable), e.g. --only 6.4 --only 7")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--limit", type=int, default=LIMIT, metavar="BYTES",
                    help="the server's limit on a message (default 64 MiB), for 9.10.x")
    ap.add_argument("--compressed-from", type=int, metavar="BYTES",
                    help="12.x, 13.x: every echo of this many bytes or more must come "
                    "compressed (the server's deflate threshold); default: not checked")
    args = ap.parse_args()
    if not args.url.startswith("ws://"):
        ap.error("the URL must be ws://")
    return args


if __name__ == "__main__":
    args = parse_args()
    LIMIT = args.limit
    COMPRESSED_FROM = args.compressed_from
    if args.list:
        for cid, desc, _, _ in CASES:
            if selected(cid, args.only):
                say(f"{cid} {desc}")
        sys.exit(0)
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    sys.exit(0 if asyncio.run(main(args.url, args.only)) else 1)
