"""Host keys from the instance console: the AWS and Nova console APIs as the providers read
them, and the bounded wait. A transient error is retried; a refusal that waiting cannot change
ends the wait at once; a host that never prints its keys is reported, never guessed."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from hybridburst.infra import userdata
from hybridburst.providers.consoles import (
    AwsConsoles,
    ConsoleUnavailable,
    OpenStackConsoles,
    harvest_host_keys,
)

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfWeb01"
HOSTS = [{"name": "double11-web-01", "provider_id": "i-0123456789abcdef0"},
         {"name": "double11-web-02", "provider_id": "i-0fedcba9876543210"}]


def console(name: str) -> str:
    return (f"cloud-init boot...\n{userdata.BEGIN.format(name=name)}\n{KEY} root@{name}\n"
            f"{userdata.END.format(name=name)}\n")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class FakeEc2:
    """get_console_output as EC2 answers it: base64 text, errors as botocore raises them."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def get_console_output(self, InstanceId: str, Latest: bool) -> dict[str, str]:
        self.calls.append(InstanceId)
        answer = self.answers.pop(0) if self.answers else ""
        if isinstance(answer, Exception):
            raise answer
        return {"InstanceId": InstanceId, "Output": base64.b64encode(answer.encode()).decode()}


def test_a_transient_network_error_is_retried_not_a_quarantine() -> None:
    ec2 = FakeEc2([EndpointConnectionError(endpoint_url="https://ec2.us-east-1.amazonaws.com"),
                   console("double11-web-01")])
    clock = Clock()
    harvest = harvest_host_keys(HOSTS[:1], AwsConsoles("us-east-1", client=ec2), timeout=60,
                                interval=5, sleep=clock.sleep, clock=clock)
    assert harvest.keys == {"double11-web-01": [KEY]} and harvest.missing == {}
    assert ec2.calls == ["i-0123456789abcdef0"] * 2 and clock.slept == [5]


def test_no_credentials_ends_the_wait_at_once_for_every_host() -> None:
    ec2 = FakeEc2([NoCredentialsError()])
    clock = Clock()
    harvest = harvest_host_keys(HOSTS, AwsConsoles("us-east-1", client=ec2), timeout=600,
                                interval=5, sleep=clock.sleep, clock=clock)
    assert harvest.keys == {} and set(harvest.missing) == {h["name"] for h in HOSTS}
    assert all("Unable to locate credentials" in r for r in harvest.missing.values())
    assert len(ec2.calls) == 1 and clock.slept == []


def test_a_refused_console_permission_is_said_plainly() -> None:
    denied = ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "no"}},
                         "GetConsoleOutput")
    with pytest.raises(ConsoleUnavailable, match="ec2:GetConsoleOutput is refused"):
        AwsConsoles("us-east-1", client=FakeEc2([denied])).output("i-0123456789abcdef0")


def test_a_silent_host_is_reported_after_the_timeout_and_the_other_keeps_its_keys() -> None:
    outputs = {"i-0123456789abcdef0": console("double11-web-01"), "i-0fedcba9876543210": "boot"}

    class Consoles:
        label = "test console"

        def output(self, instance_id: str) -> str:
            return outputs[instance_id]

    clock = Clock()
    harvest = harvest_host_keys(HOSTS, Consoles(), timeout=30, interval=10, sleep=clock.sleep,
                                clock=clock)
    assert harvest.keys == {"double11-web-01": [KEY]}
    assert harvest.missing == {"double11-web-02":
                               "no SSH host keys on the test console within 30s"}
    assert sum(clock.slept) == 30


class HttpError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status_code = status


class FakeCompute:
    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def get_server_console_output(self, server: str) -> dict[str, str]:
        if isinstance(self.answer, Exception):
            raise self.answer
        return {"output": self.answer}


def nova(answer: Any) -> OpenStackConsoles:
    conn = type("Conn", (), {"compute": FakeCompute(answer)})()
    return OpenStackConsoles(connection=conn)


def test_nova_console_log_is_read_and_its_errors_are_told_apart() -> None:
    assert userdata.host_keys_from_console(nova(console("double11-web-01")).output("s1"),
                                           "double11-web-01") == [KEY]
    assert nova(HttpError(404)).output("s1") == ""  # not there yet: retried
    assert nova(HttpError(409)).output("s1") == ""  # still building
    with pytest.raises(ConsoleUnavailable, match="refuses the console log \\(403\\)"):
        nova(HttpError(403)).output("s1")
    with pytest.raises(Exception, match="nova console log s1: HTTP 500") as info:
        nova(HttpError(500)).output("s1")
    assert not isinstance(info.value, ConsoleUnavailable)
