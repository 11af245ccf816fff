#!/usr/bin/python3
"""Independent RTSP publish target for the push tests: GStreamer's RTSP server (gst-rtsp-server,
Debian gir1.2-gst-rtsp-server-1.0) in RECORD mode, with Basic or Digest auth, decoding whatever
is published to raw s16le mono 16 kHz in a file.

usage: record_server.py PORT PATH OUT.raw [basic|digest USER PASSWORD]
Prints "ready" on stdout once listening on 127.0.0.1:PORT. Stops on SIGTERM/SIGINT."""
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

Gst.init(None)
port, path, out = sys.argv[1], sys.argv[2], sys.argv[3]
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_transport_mode(GstRtspServer.RTSPTransportMode.RECORD)
factory.set_launch(
    "( decodebin name=depay0 ! audioconvert ! audioresample ! "
    f"audio/x-raw,format=S16LE,rate=16000,channels=1 ! filesink location={out} )"
)
factory.set_latency(100)
if len(sys.argv) >= 7:
    scheme, user, password = sys.argv[4], sys.argv[5], sys.argv[6]
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
    if scheme == "digest":
        auth.add_digest(user, password, token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    else:
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
    server.set_auth(auth)
    perms = GstRtspServer.RTSPPermissions()
    perms.add_role_from_structure(
        Gst.Structure.from_string("user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true")[0]
    )
    factory.set_permissions(perms)
server.get_mount_points().add_factory("/" + path.strip("/"), factory)
server.attach(None)
loop = GLib.MainLoop()
for sig in (signal.SIGTERM, signal.SIGINT):
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
print("ready", flush=True)
loop.run()
