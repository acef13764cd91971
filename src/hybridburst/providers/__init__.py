"""Providers create and destroy capacity; each writes the same fleet manifest."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import HybridburstError
from ..spec import Fault
from .base import Provider

REPO_INVENTORY = Path(__file__).resolve().parents[3] / "inventory" / "local"


def get(name: str, private_inventory: Path | None, log: Callable[[str], None] = print, *,
        emulated: bool = False, region: str | None = None,
        faults: Iterable[Fault] = ()) -> Provider:
    if emulated:
        from .emulated import emulated_provider

        if name not in ("aws", "openstack"):
            raise HybridburstError(f"provider {name!r} has no emulation (aws and openstack do)")
        return emulated_provider(name, private_inventory or REPO_INVENTORY, region=region,
                                 faults=faults, log=log)
    if name == "local":
        from .local import LocalProvider

        inventory = private_inventory or REPO_INVENTORY
        if not (inventory / "hosts.yml").exists():
            raise HybridburstError(
                f"the local provider needs a private-cloud inventory; {inventory}/hosts.yml is missing"
            )
        return LocalProvider(inventory, log=log)
    if name == "aws":
        from .aws import AwsProvider

        return AwsProvider()
    if name == "openstack":
        from .openstack import OpenStackProvider

        return OpenStackProvider()
    raise HybridburstError(f"unknown provider {name!r}")
