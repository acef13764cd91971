"""Build a versioned storefront release: ``storefront-VERSION.tar.gz`` and its ``.sha256``.

    python -m hybridburst.app.release VERSION --out DIR [--health-fault]

The archive holds ``storefront-VERSION/storefront.py`` and ``release.json``. It is
reproducible (fixed mtimes, owners and order): building the same version twice gives the same
bytes and checksum, so publishing it again changes nothing. ``--health-fault`` builds a
deliberately broken release whose health check always fails (for rollback tests).

The ``.sha256`` beside the archive is for people and mirrors only: a host never trusts a
checksum fetched from the server that serves the artifact (whoever can change one can change
the other). The controller computes the digest of the artifact it publishes (:func:`sha256`)
and hands it to the deploy (``app_deploy_release_sha256``); the host refuses any other bytes.
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
# A release: a letter or digit, then letters, digits and ._+- ; 64 characters at most. It
# names a file and a folder on hosts, so no slash, no leading dot or dash, no whitespace.
VERSION_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._+-]{0,63}\Z")


def check_release(value: object) -> str:
    """``value`` as a release string, or ValueError saying what is wrong with it (for the
    spec's ``release`` and ``--release``; the caller adds file and line)."""
    if not isinstance(value, str):
        raise ValueError(f"a release is a string such as \"1.2.0\" (quote it in YAML), not "
                         f"{type(value).__name__} {value!r}")
    if not VERSION_RE.match(value):
        raise ValueError(f"not a release: {value!r} (1 to 64 of A-Z a-z 0-9 . _ + -, starting "
                         "with a letter or digit)")
    return value


def artifact_name(version: str) -> str:
    return f"{NAME}-{check_release(version)}.tar.gz"


def sha256(archive: str | Path) -> str:
    """The hex sha256 of ``archive``: the controller's own digest of what it publishes."""
    digest = hashlib.sha256()
    with Path(archive).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build(version: str, out: Path, health_fault: bool = False) -> Path:
    """Write the release archive and its checksum file into ``out``; return the archive."""
    check_release(version)
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
    (out / f"{archive.name}.sha256").write_text(f"{sha256(archive)}  {archive.name}\n")
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
