"""Pulumi components of hybridburst: event capacity in AWS or OpenStack and the network path
back to the private cloud. The programs under ``pulumi_stacks/`` are thin wrappers over these
components; everything here is unit-tested in-process with Pulumi mocks (``tests/pulumi``).

Import this package only where the Pulumi SDK is wanted: it imports ``pulumi``.
"""
