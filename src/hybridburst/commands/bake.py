"""hybridburst bake SPEC: bake the image of each pool whose image is not current;
hybridburst images SPEC: say, per pool, whether its image is current."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from .. import spec
from ..images import bake as bake_mod


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("bake", help="bake each pool's image once (baseline and release applied "
                                    "on one builder host, then captured)")
    p.add_argument("spec", type=Path)
    p.add_argument("--pool", action="append", help="only this pool (repeatable)")
    p.add_argument("--force", action="store_true", help="bake even when the image is current")
    p.set_defaults(func=cmd_bake)
    p = sub.add_parser("images", help="per pool of a spec: is its baked image current?")
    p.add_argument("spec", type=Path)
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.set_defaults(func=cmd_images)


def cmd_bake(args: argparse.Namespace, console: Console) -> int:
    results = bake_mod.bake(args.spec, console, pools=args.pool, force=args.force,
                            log=lambda m: console.print(m))
    for r in results:
        how = "current, kept" if r.reused else f"baked in {r.seconds:.0f}s"
        console.print(f"pool {r.pool}: {r.tag} ({how}); record {r.record}", soft_wrap=True)
    return 0


def cmd_images(args: argparse.Namespace, console: Console) -> int:
    event_spec = spec.load(args.spec)
    wanted = bake_mod.pool_images(event_spec)
    have = bake_mod.current(event_spec)
    rows = [{"pool": pool, "digest": image.digest, "tag": image.tag,
             "current": have[pool] is not None} for pool, image in wanted.items()]
    if args.json:
        console.print_json(json.dumps({"event": event_spec.event, "pools": rows}))
    else:
        for row in rows:
            state = "current" if row["current"] else "not baked (or stale): hybridburst bake"
            console.print(f"pool {row['pool']}: {row['digest'][:12]} {state}")
    return 0 if all(r["current"] for r in rows) else 1
