"""infra/image_aws under Pulumi mocks: one AMI from the builder instance, tagged with the
digest of its inputs."""

from __future__ import annotations

from typing import Any

import pytest

from hybridburst.infra import image_aws, mocking
from hybridburst.infra.tags import POOL

DIGEST = "a9076bb88c51dbdf90f70b14c51b317235a9b0ba50c4a9d414e011248b8dadc9"
CONFIG = {"sourceInstanceId": "i-0123456789abcdef0", "digest": DIGEST, "pool": "web",
          "release": "2025.11.1", "team": "storefront"}


def _run(config: dict[str, Any], **kwargs: Any) -> tuple[dict[str, Any], mocking.RecordingMocks]:
    return mocking.run_program(image_aws.baked_image, project=image_aws.PROJECT,
                               config=config, **kwargs)


def test_one_ami_from_the_builder_stopped_for_its_snapshots() -> None:
    outputs, mocks = _run(CONFIG)
    (ami,) = mocks.of_type("aws:ec2/amiFromInstance:AmiFromInstance")
    assert ami.inputs["sourceInstanceId"] == "i-0123456789abcdef0"
    assert ami.inputs["snapshotWithoutReboot"] is False
    assert ami.inputs["name"] == f"hybridburst-web-{DIGEST[:12]}"
    assert ami.inputs["tags"][image_aws.DIGEST_TAG] == DIGEST
    assert ami.inputs["tags"][POOL] == "web"
    assert outputs["digest"] == DIGEST
    assert outputs["imageId"] == ami.id
    assert len(mocks.resources) == 1


@pytest.mark.parametrize(("key", "value"), [("sourceInstanceId", "ami-0123456789abcdef0"),
                                            ("sourceInstanceId", "i-01; rm"),
                                            ("digest", "abc")])
def test_bad_config_is_refused(key: str, value: str) -> None:
    with pytest.raises(Exception, match=key):
        _run({**CONFIG, key: value})
