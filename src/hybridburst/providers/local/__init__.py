"""The local provider: the embedded default cloud of real SSH hosts as podman containers."""

from .provider import LocalProvider

__all__ = ["LocalProvider"]
