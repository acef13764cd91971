"""The OpenStack side of "bake once": a Glance image from a snapshot of the builder server.

openstacksdk's compute proxy (openstack/compute/v2/_proxy.py)::

    conn.compute.create_server_image(server, name, metadata=None, wait=False, timeout=120)

asks Nova for the ``createImage`` server action (a snapshot of the server's disk uploaded to
Glance) and, with ``wait=True``, returns the Glance image once it is ``active``. The builder
is stopped first (``stop_server`` then ``wait_for_server(status="SHUTOFF")``): a snapshot of
a stopped server has a consistent file system. The image's metadata carries the digest of its
inputs (``hybridburst.images.digest``), so a pool whose digest changed finds no image.
The builder must have been scrubbed first, as the local bake does (bake.SCRUB).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import HybridburstError

DIGEST_KEY = "hybridburst_image_digest"
DIGEST = re.compile(r"^[0-9a-f]{64}\Z")


def image_name(pool: str, digest: str) -> str:
    return f"hybridburst-{pool}-{digest[:12]}"


def snapshot_builder(conn: Any, server_id: str, *, pool: str, release: str, digest: str,
                     timeout: int = 900) -> Any:
    """Stop the builder server and snapshot it into an image; returns the active image."""
    if not DIGEST.match(digest):
        raise HybridburstError(f"image digest {digest!r} is not 64 hex digits")
    server = conn.compute.get_server(server_id)
    if server.status != "SHUTOFF":
        conn.compute.stop_server(server)
        server = conn.compute.wait_for_server(server, status="SHUTOFF", wait=timeout)
    return conn.compute.create_server_image(
        server, image_name(pool, digest),
        metadata={DIGEST_KEY: digest, "hybridburst_release": release, "hybridburst_pool": pool},
        wait=True, timeout=timeout)


def find_image(conn: Any, pool: str, digest: str) -> Any | None:
    """The active image of ``pool`` baked from inputs with ``digest``, if the cloud has one
    (listed by name, its digest checked in the image's properties: Glance keeps the server
    action's metadata as image properties)."""
    for image in conn.image.images(name=image_name(pool, digest)):
        properties = getattr(image, "properties", None) or {}
        if getattr(image, "status", "") == "active" and properties.get(DIGEST_KEY) == digest:
            return image
    return None
