"""Build a versioned storefront release: ``storefront-VERSION.tar.gz`` and its ``.sha256``.

    python -m hybridburst.app.release VERSION --out DIR [--health-fault]

The archive holds ``storefront-VERSION/storefront.py`` and ``release.json``. It is
reproducible (fixed mtimes, owners and order): building the same version twice gives the same
bytes and checksum, so publishing it again changes nothing. ``--health-fault`` builds a
deliberately broken release whose health check always fails (for rollback tests).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import re
import sys
import tarfile
from importlib import resources
from pathlib import Path

NAME = "storefront"
VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$")


def artifact_name(version: str) -> str:
    return f"{NAME}-{version}.tar.gz"


def build(version: str, out: Path, health_fault: bool = False) -> Path:
    """Write the release archive and its checksum file into ``out``; return the archive."""
    if not VERSION_RE.match(version):
        raise ValueError(f"not a release version: {version!r}")
    source = resources.files("hybridburst.app").joinpath("storefront.py").read_bytes()
    meta = {"name": NAME, "version": version}
    if health_fault:
        meta["health_fault"] = True
    files = {"storefront.py": (source, 0o755),
             "release.json": ((json.dumps(meta, indent=2, sort_keys=True) + "\n").encode(), 0o644)}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        top = tarfile.TarInfo(f"{NAME}-{version}")
        top.type, top.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(top)
        for name in sorted(files):
            data, mode = files[name]
            info = tarfile.TarInfo(f"{NAME}-{version}/{name}")
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    out.mkdir(parents=True, exist_ok=True)
    archive = out / artifact_name(version)
    with archive.open("wb") as handle, gzip.GzipFile(fileobj=handle, mode="wb", mtime=0,
                                                     filename="") as gz:
        gz.write(raw.getvalue())
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    (out / f"{archive.name}.sha256").write_text(f"{digest}  {archive.name}\n")
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hybridburst.app.release",
                                     description="build a storefront release artifact")
    parser.add_argument("version")
    parser.add_argument("--out", type=Path, default=Path("dist/releases"))
    parser.add_argument("--health-fault", action="store_true",
                        help="a broken release whose health check always fails (tests)")
    args = parser.parse_args(argv)
    try:
        archive = build(args.version, args.out, args.health_fault)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(archive)
    return 0


if __name__ == "__main__":
    sys.exit(main())
