#!/usr/bin/python3
"""An independent WHEP server for the tests: python3-aiortc (Debian) sends Opus encoded by its own
libopus binding from a raw PCM file (48 kHz mono s16le), in real time, to every WHEP session.

    /usr/bin/python3 aiortc_whep_server.py --port 0 --pcm speech.raw [--loop]

Prints "READY <port>" when listening, "SESSION <id>" per answered offer and "DELETE <id>" per
DELETE. Loopback only: aioice leaves 127.0.0.1 out of its host candidates, so the address list
is replaced with just 127.0.0.1 (and no STUN server is configured).
"""
import faulthandler
import sys

# If starting takes long (a CI machine once sat 45 s without a word before "READY"), write every
# thread's Python stack to stderr so the test's error says where it stalled.
faulthandler.dump_traceback_later(20, exit=False, file=sys.stderr)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import fractions  # noqa: E402
import time  # noqa: E402

print("importing aiortc", file=sys.stderr, flush=True)
import aioice.ice
import av
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

print("imported aiortc", file=sys.stderr, flush=True)

aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]

FRAME = 960  # 20 ms at 48 kHz


class PcmTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self, pcm: bytes, loop: bool):
        super().__init__()
        self.pcm = pcm
        self.loop = loop
        self.offset = 0
        self.start = None
        self.pts = 0

    async def recv(self):
        if self.start is None:
            self.start = time.time()
        else:
            self.pts += FRAME
            wait = self.start + self.pts / 48000 - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        n = FRAME * 2
        if self.offset >= len(self.pcm) and self.loop:
            self.offset = 0
        chunk = self.pcm[self.offset:self.offset + n]
        self.offset += n
        chunk = chunk + b"\x00" * (n - len(chunk))  # silence after the end
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME)
        frame.planes[0].update(chunk)
        frame.pts = self.pts
        frame.sample_rate = 48000
        frame.time_base = fractions.Fraction(1, 48000)
        return frame


class Server:
    def __init__(self, pcm: bytes, loop: bool):
        self.pcm = pcm
        self.loop = loop
        self.sessions = {}
        self.next_id = 1

    async def handle(self, reader, writer):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if method == "POST":
                status, extra, out = await self.offer(body.decode())
            elif method == "DELETE":
                sid = path.rsplit("/", 1)[-1]
                pc = self.sessions.pop(sid, None)
                print("DELETE", sid, flush=True)
                if pc:
                    await pc.close()
                status, extra, out = ("200 OK" if pc else "404 Not Found"), {}, b""
            else:
                status, extra, out = "405 Method Not Allowed", {}, b""
            hdrs = "".join(f"{k}: {v}\r\n" for k, v in extra.items())
            writer.write(f"HTTP/1.1 {status}\r\n{hdrs}Content-Length: {len(out)}\r\nConnection: close\r\n\r\n".encode() + out)
            await writer.drain()
        except Exception as e:  # a broken request must not stop the server
            print("ERROR", repr(e), file=sys.stderr, flush=True)
        finally:
            writer.close()

    async def offer(self, sdp: str):
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        pc.addTrack(PcmTrack(self.pcm, self.loop))
        await pc.setLocalDescription(await pc.createAnswer())
        sid = str(self.next_id)
        self.next_id += 1
        self.sessions[sid] = pc
        print("SESSION", sid, flush=True)
        headers = {"Content-Type": "application/sdp", "Location": f"/whep/session/{sid}"}
        return "201 Created", headers, pc.localDescription.sdp.encode()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--pcm", required=True)
    ap.add_argument("--loop", action="store_true")
    args = ap.parse_args()
    with open(args.pcm, "rb") as f:
        pcm = f.read()
    srv = Server(pcm, args.loop)
    server = await asyncio.start_server(srv.handle, "127.0.0.1", args.port)
    faulthandler.cancel_dump_traceback_later()
    print("READY", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
