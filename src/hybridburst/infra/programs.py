"""The stack programs. ``pulumi_stacks/*/__main__.py`` call one of these and export the
returned outputs; the tests call them under mocks."""

from __future__ import annotations

from typing import Any

from . import config
from .aws_burst import AwsBurst
from .openstack_burst import OpenStackBurst
from .private_peering import PrivatePeering


def aws_burst() -> dict[str, Any]:
    return AwsBurst("burst", config.aws_burst_args()).outputs


def openstack_burst() -> dict[str, Any]:
    return OpenStackBurst("burst", config.openstack_burst_args()).outputs


def private_peering() -> dict[str, Any]:
    return PrivatePeering("peering", config.private_peering_args()).outputs


PROGRAMS = {
    "aws_burst": aws_burst,
    "openstack_burst": openstack_burst,
    "private_peering": private_peering,
}

#: Project names (``name:`` in each Pulumi.yaml); config keys are ``<project>:<key>``.
PROJECTS = {
    "aws_burst": "hybridburst-aws-burst",
    "openstack_burst": "hybridburst-openstack-burst",
    "private_peering": "hybridburst-private-peering",
}
