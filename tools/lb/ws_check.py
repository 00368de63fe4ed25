"""WebSocket echo round trips through a load balancer, for tools/lb/run.

    /usr/bin/python3 ws_check.py PORT [--source ADDR] [--path PATH]
                                      [--conns N] [--rounds N]

Opens CONNS connections (default 6, one after the other, so that a
round-robin balancer spreads them over its servers) to
ws://127.0.0.1:PORT/PATH from the source address, and on each sends
ROUNDS text messages and ROUNDS binary ones (default 5 of each), every
one to come back as it went (nghttpw-serve --ws-echo).  The peer is
Debian's python3-websockets, an implementation that is not ours.

Prints one line, "ws: N connections, M round trips", and exits 0 when
every message came back whole; otherwise says which did not and exits 1.
"""
import argparse
import asyncio
import os
import sys

import websockets


async def one_connection(uri, source, rounds, index):
    async with websockets.connect(uri, local_addr=(source, 0),
                                  open_timeout=10, close_timeout=5) as ws:
        for r in range(rounds):
            text = f"lb {index}.{r} " + "x" * (r * 100)
            data = os.urandom(1 + r * 1000)
            for sent in (text, data):
                await ws.send(sent)
                got = await asyncio.wait_for(ws.recv(), 10)
                if got != sent:
                    raise RuntimeError(
                        f"connection {index}: message {r} came back changed")
    return 2 * rounds


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--source", default="127.0.0.2")
    ap.add_argument("--path", default="/ws")
    ap.add_argument("--conns", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    uri = f"ws://127.0.0.1:{a.port}{a.path}"
    trips = 0
    for i in range(a.conns):
        try:
            trips += await one_connection(uri, a.source, a.rounds, i)
        except Exception as e:  # any failure is the answer, named
            print(f"ws: connection {i} to {uri} failed: {e!r}", file=sys.stderr)
            return 1
    print(f"ws: {a.conns} connections, {trips} round trips")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
