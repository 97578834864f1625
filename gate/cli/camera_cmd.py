"""``egate emulate camera``: a synthetic traveller served as an MJPEG stream on localhost."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from gate.cli import args as argtypes
from gate.cli.base import EXIT_OK, Registry
from gate.cli.options import add_pack_option, add_seed_option

log = logging.getLogger(__name__)

KINDS = ("genuine", "print", "screen", "no-face", "two-faces")
MAX_FRAMES = 10_000  # frames per approach: 11 minutes at 15 fps is already no approach


def register(registry: Registry) -> None:
    registry.group("emulate", "run device emulators")
    p = registry.command(
        "emulate camera",
        "serve a synthetic traveller (or attack) as MJPEG over HTTP on 127.0.0.1",
        _emulate_camera,
    )
    p.add_argument("--photo", required=True, help="face photo the traveller is made from")
    p.add_argument(
        "--port", type=argtypes.listen_port, required=True, help="TCP port on 127.0.0.1 (0: any)"
    )
    p.add_argument("--kind", choices=KINDS, default="genuine", help="scene kind")
    p.add_argument("--fps", type=argtypes.fps, default=15.0, help="frames per second (default 15)")
    p.add_argument(
        "--frames",
        type=argtypes.int_range(1, MAX_FRAMES, "frames"),
        default=45,
        help="frames per approach (default 45)",
    )
    add_seed_option(p, "random seed of the scene (default 0)")
    p.add_argument(
        "--duration",
        type=argtypes.duration,
        default=0.0,
        help="stop after this many seconds (0: never)",
    )
    p.add_argument(
        "--once", action="store_true", help="play the approach once, then end the stream"
    )
    add_pack_option(
        p,
        "dlib model pack used to find the face in the photo (default: dlib-cc0; "
        "without one, a centred portrait is assumed)",
    )


def _photo_landmarks(photo: object, pack: str | None) -> tuple[tuple[float, float], ...] | None:
    """The photo's 5 points in dlib's order from the face engine, when a dlib pack is there."""
    from gate.errors import GateError

    try:
        from models.engine import load_engine

        engine = load_engine(pack or "dlib-cc0")  # the scene wants dlib's 5 points
        if engine.manifest.kind != "dlib-cc0":
            log.warning("pack %s is not a dlib pack; assuming a centred portrait", pack)
            return None
        face = engine.embed_one(photo, policy="largest", min_face=20)  # type: ignore[arg-type]
    except GateError as exc:
        log.warning("no face found in the photo (%s); assuming a centred portrait", exc)
        return None
    return face.landmarks.points


def _emulate_camera(args: argparse.Namespace) -> int:
    from drivers.camera.mjpeg_server import MjpegServer
    from drivers.camera.synthetic import TravellerScene
    from gate.images import load_image

    photo = load_image(args.photo)
    scene = TravellerScene(
        photo,
        kind=args.kind.replace("-", "_"),
        seed=args.seed,
        frames=args.frames,
        photo_landmarks=_photo_landmarks(photo, args.pack),
    )
    with MjpegServer(scene.images, port=args.port, fps=args.fps, loop=not args.once) as server:
        print(server.url, flush=True)
        started = time.monotonic()
        try:
            while args.duration <= 0 or time.monotonic() - started < args.duration:
                if args.once and server.wait_frames(args.frames, timeout=0.2):
                    time.sleep(0.5)  # let clients take the last picture
                    break
                time.sleep(0.1)
        except KeyboardInterrupt:
            print("egate: camera emulator stopped", file=sys.stderr)
    return EXIT_OK
