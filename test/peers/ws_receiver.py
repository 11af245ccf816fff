#!/usr/bin/python3
"""
An independent WebSocket receiver for interop tests: Python `websockets` (Debian
python3-websockets), not the `ws` library our client is built on. Listens on 127.0.0.1 (port 0 =
any), prints {"port": N} and then one JSON line per event on stdout:
  {"ev": "open", "conn": n, "path": "...", "authorization": "...", "extensions": "..."}
  {"ev": "frame", "conn": n, "text": "..."} or {"ev": "frame", "conn": n, "binary": "<base64>"}
  {"ev": "close", "conn": n, "code": c}
Answers every JSON text frame with {"stmId": <its stmId>, "seq": k, "text": "heard <bytes>"}.
--final-reply-delay S: on a stream's end frame (a JSON frame with "end": true), waits S seconds,
sends a final reply {"stmId": ..., "final": true, "frames": <audio frames read>} ({"ev": "final"}
or {"ev": "final-failed"} when the client had closed) and closes (1000 "done"), as an ASR service
that sends its final result after the last audio; with --keep-open it never closes by itself.
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
FINAL_DELAY = arg("--final-reply-delay", -1.0)
KEEP_OPEN = "--keep-open" in sys.argv


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
    audio = 0
    final = None

    async def final_reply(stm_id, frames):
        await asyncio.sleep(FINAL_DELAY)
        try:
            await ws.send(json.dumps({"stmId": stm_id, "final": True, "frames": frames}))
            emit({"ev": "final", "conn": conn, "stmId": stm_id})
        except websockets.ConnectionClosed:
            emit({"ev": "final-failed", "conn": conn, "stmId": stm_id})
            return
        if not KEEP_OPEN:
            await ws.close(1000, "done")

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
            if FINAL_DELAY >= 0 and final is None and isinstance(frame, dict) and frame.get("end") is True:
                final = asyncio.ensure_future(final_reply(frame.get("stmId"), audio))
            if replying and isinstance(frame, dict) and isinstance(frame.get("data"), str):
                audio += 1
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
    if final is not None:
        await final
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
