"""The instance-type catalog: which hardware each provider's instance types present."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

DATA_MOUNT = "/srv/data"


@dataclass(frozen=True)
class Hardware:
    """What a host of an instance type must present to its OS."""

    cpus: int
    memory_mb: int
    disk_mb: int
    data_mount: str = DATA_MOUNT

    def as_dict(self) -> dict[str, int | str]:
        return {
            "cpus": self.cpus,
            "memory_mb": self.memory_mb,
            "disk_mb": self.disk_mb,
            "data_mount": self.data_mount,
        }


@cache
def catalog() -> dict[str, dict[str, Hardware]]:
    text = resources.files("hybridburst").joinpath("data/instance_types.yml").read_text()
    raw = yaml.safe_load(text)
    return {
        provider: {name: Hardware(**spec) for name, spec in types.items()}
        for provider, types in raw.items()
    }


def instance_types(provider: str) -> dict[str, Hardware]:
    return catalog().get(provider, {})


def hardware(provider: str, instance_type: str) -> Hardware:
    """The hardware of ``instance_type``; KeyError when the provider does not offer it."""
    return catalog()[provider][instance_type]
