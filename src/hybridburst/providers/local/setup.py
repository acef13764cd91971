"""`python -m hybridburst.providers.local.setup`: start lxcfs and build the host image."""

from __future__ import annotations

from . import image, lxcfs


def main() -> None:
    lxcfs.ensure()
    tag = image.ensure()
    print(f"local cloud ready: lxcfs serving, host image {tag}")


if __name__ == "__main__":
    main()
