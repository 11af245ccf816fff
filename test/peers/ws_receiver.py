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
"""
import asyncio
import base64
import json
import sys

import websockets

counter = 0


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
    try:
        async for message in ws:
            if isinstance(message, bytes):
                emit({"ev": "frame", "conn": conn, "binary": base64.b64encode(message).decode()})
                continue
            emit({"ev": "frame", "conn": conn, "text": message})
            try:
                frame = json.loads(message)
            except ValueError:
                continue
            if isinstance(frame, dict) and isinstance(frame.get("data"), str):
                seq += 1
                await ws.send(json.dumps({"stmId": frame.get("stmId"), "seq": seq,
                                          "text": "heard %d" % len(base64.b64decode(frame["data"]))}))
    except websockets.ConnectionClosed:
        pass
    emit({"ev": "close", "conn": conn, "code": ws.close_code})


async def main():
    max_seconds = 120.0
    if "--max-seconds" in sys.argv:
        max_seconds = float(sys.argv[sys.argv.index("--max-seconds") + 1])
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=2 ** 24) as server:
        port = server.sockets[0].getsockname()[1]
        emit({"port": port})
        loop = asyncio.get_running_loop()
        stdin_closed = loop.run_in_executor(None, sys.stdin.read)
        await asyncio.wait([stdin_closed], timeout=max_seconds)


if __name__ == "__main__":
    asyncio.run(main())
