"""The AWS side of "bake once": an AMI from the image builder instance.

A Pulumi program (stack project ``hybridburst-image-aws``, one stack per image digest) that
captures the builder, after ``hybridburst bake``'s steps ran on it, as an AMI with
``aws.ec2.AmiFromInstance``: the instance is stopped for the snapshots
(``snapshot_without_reboot=False``: a consistent file system), its EBS volumes are snapshotted
and the AMI refers to them. The AMI carries the digest of its inputs
(``hybridburst.images.digest``) in its tags and name, so a pool whose digest changed finds no
AMI and is baked again. The builder must have been scrubbed first, as the local bake does
(no SSH host keys, empty machine-id, login user's password locked, no authorized key: the
event's key and become password come with the launch, through cloud-init user data).

Config (``hybridburst-image-aws:KEY``): ``sourceInstanceId`` (required: ``i-`` and hex),
``digest`` (64 hex digits), ``pool``, ``release``, ``team``. Outputs: ``imageId``,
``imageName``, ``digest``.
"""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pulumi_aws as aws

from .common import StackConfigError
from .tags import POOL, TEAM

PROJECT = "hybridburst-image-aws"
DIGEST_TAG = "hybridburst:image-digest"
RELEASE_TAG = "hybridburst:release"
INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}\Z")
DIGEST = re.compile(r"^[0-9a-f]{64}\Z")


def image_name(pool: str, digest: str) -> str:
    """AMI names are unique per account and region: the pool and the digest's first 12."""
    return f"hybridburst-{pool}-{digest[:12]}"


def baked_image() -> dict[str, Any]:
    cfg = pulumi.Config()
    source = cfg.require("sourceInstanceId")
    digest = cfg.require("digest")
    pool = cfg.require("pool")
    release = cfg.require("release")
    team = cfg.require("team")
    problems = []
    if not INSTANCE_ID.match(source):
        problems.append(f"sourceInstanceId {source!r} is no EC2 instance id")
    if not DIGEST.match(digest):
        problems.append(f"digest {digest!r} is not 64 hex digits")
    if problems:
        raise StackConfigError(PROJECT, problems)
    name = image_name(pool, digest)
    ami = aws.ec2.AmiFromInstance(
        name,
        name=name,
        source_instance_id=source,
        snapshot_without_reboot=False,
        description=f"hybridburst baked image of pool {pool}, release {release}",
        tags={DIGEST_TAG: digest, RELEASE_TAG: release, POOL: pool, TEAM: team,
              "Name": name},
    )
    outputs = {"imageId": ami.id, "imageName": ami.name, "digest": digest}
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs
