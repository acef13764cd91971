"""`python -m hybridburst.providers.local.setup`: start lxcfs and build the host image."""

from __future__ import annotations

from . import hostprep, image, lxcfs


def main() -> None:
    for key, value in hostprep.ensure().items():
        print(f"raised {key} to {value}")
    lxcfs.ensure()
    tag = image.ensure()
    print(f"local cloud ready: lxcfs serving, host image {tag}")


if __name__ == "__main__":
    main()
