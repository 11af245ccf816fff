#!/usr/bin/python3
"""
An independent WebSocket receiver for interop tests: Python `websockets` (Debian
python3-websockets), not the `ws` library our client is built on. Listens on 127.0.0.1 (port 0 =
any), prints {"port": N} and then one JSON line per event on stdout:
  {"ev": "open", "conn": n, "path": "...", "authorization": "...", "extensions": "..."}
  {"ev": "frame", "conn": n, "text": "..."} or {"ev": "frame", "conn": n, "binary": "<base64>"}
  {"ev": "close", "conn": n, "code": c}
Answers every JSON text frame with {"stmId": <its stmId>, "seq": k, "text": "heard <bytes>"}.
Exits when stdin closes (the test ends) or after --max-seconds.
--close-after N: the application of each of the first --close-count connections (default 25) reads
N frames, works 50 ms, and closes (1000 "enough"), as a receiver that hangs up does.
--max-queue N: websockets' max_queue (messages its library reads ahead of the application).
--read-delay S: the application starts reading each connection S seconds late (a busy receiver),
so a sender's frames and its Close are all in the library's queue before the first is read.
A reply that fails because the client closed meanwhile ({"ev": "reply-failed"}) does not end the
reading: websockets refuses to send once it has the client's Close, but the frames before that
Close are still in its queue, and a receiver that stopped there would lose them (the sender is not
at fault: it may close once it has nothing left to send).
"""
import asyncio
import base64
import json
import sys

import websockets

counter = 0


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


CLOSE_AFTER = arg("--close-after", 0)
CLOSE_COUNT = arg("--close-count", 25)
READ_DELAY = arg("--read-delay", 0.0)


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def handler(ws, path=None):
    global counter
    conn = counter
    counter += 1
    path = path if path is not None else getattr(ws, "path", "")
    emit({"ev": "open", "conn": conn, "path": path,
          "authorization": ws.request_headers.get("Authorization", ""),
          "extensions": ws.response_headers.get("Sec-WebSocket-Extensions", "")})
    seq = 0
    read = 0
    replying = True
    if READ_DELAY:
        await asyncio.sleep(READ_DELAY)
    try:
        async for message in ws:
            read += 1
            if isinstance(message, bytes):
                emit({"ev": "frame", "conn": conn, "binary": base64.b64encode(message).decode()})
                continue
            emit({"ev": "frame", "conn": conn, "text": message})
            try:
                frame = json.loads(message)
            except ValueError:
                continue
            if replying and isinstance(frame, dict) and isinstance(frame.get("data"), str):
                seq += 1
                try:
                    await ws.send(json.dumps({"stmId": frame.get("stmId"), "seq": seq,
                                              "text": "heard %d" % len(base64.b64decode(frame["data"]))}))
                except websockets.ConnectionClosed:
                    replying = False
                    emit({"ev": "reply-failed", "conn": conn, "unread": len(getattr(ws, "messages", ()))})
            if CLOSE_AFTER and conn < CLOSE_COUNT and read >= CLOSE_AFTER:
                await asyncio.sleep(0.05)
                await ws.close(1000, "enough")
                break
    except websockets.ConnectionClosed:
        pass
    emit({"ev": "close", "conn": conn, "code": ws.close_code})


async def main():
    max_seconds = 120.0
    if "--max-seconds" in sys.argv:
        max_seconds = float(sys.argv[sys.argv.index("--max-seconds") + 1])
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=2 ** 24,
                                max_queue=arg("--max-queue", 32)) as server:
        port = server.sockets[0].getsockname()[1]
        emit({"port": port})
        loop = asyncio.get_running_loop()
        stdin_closed = loop.run_in_executor(None, sys.stdin.read)
        await asyncio.wait([stdin_closed], timeout=max_seconds)


if __name__ == "__main__":
    asyncio.run(main())
