#!/usr/bin/python3
"""Independent RTSP publish target for the push tests: GStreamer's RTSP server (gst-rtsp-server,
Debian gir1.2-gst-rtsp-server-1.0) in RECORD mode, with Basic or Digest auth, decoding whatever
is published to raw s16le mono 16 kHz in a file.

usage: record_server.py [--video DIR] PORT PATH OUT.raw [basic|digest USER PASSWORD]
--video DIR: the publisher ANNOUNCEs two tracks, audio first and video second (the media of a
RECORD mount has exactly as many streams as the SDP it accepts, so audio-only publishers use the
mount without the option); each decoded video frame (RTP/JPEG or H.264, whatever decodebin finds a
decoder for: jpegdec, avdec_h264) is written to DIR/fNNNNN.png, and a line "frame N PTS_NS" is
printed on stdout for it.
Prints "ready" on stdout once listening on 127.0.0.1:PORT. Stops on SIGTERM/SIGINT."""
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

Gst.init(None)
args = sys.argv[1:]
video = None
if "--video" in args:
    i = args.index("--video")
    video = args[i + 1]
    del args[i : i + 2]
port, path, out = args[0], args[1], args[2]
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_transport_mode(GstRtspServer.RTSPTransportMode.RECORD)
# unbuffered: the tests read the file after stopping the server with a signal, which sends no EOS,
# so whatever a buffered filesink still held (up to its buffer, seconds of audio) would be lost
audio = (
    "decodebin name=depay0 ! audioconvert ! audioresample ! "
    f"audio/x-raw,format=S16LE,rate=16000,channels=1 ! filesink buffer-mode=unbuffered location={out}"
)
if video:
    factory.set_launch(
        f"( {audio} decodebin name=depay1 ! videoconvert ! video/x-raw,format=RGB ! "
        f"identity name=frames signal-handoffs=true ! pngenc compression-level=1 snapshot=false ! "
        f"multifilesink location={video}/f%05d.png )"
    )
    count = [0]

    def on_frame(_identity, buf):
        count[0] += 1
        print(f"frame {count[0]} {buf.pts}", flush=True)

    def on_configure(_factory, media):
        media.get_element().get_by_name("frames").connect("handoff", on_frame)

    factory.connect("media-configure", on_configure)
else:
    factory.set_launch(f"( {audio} )")
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
