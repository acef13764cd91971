"""The Automation API driver through the CLI seam: what the operator reads when the CLI fails,
the progress lines of a long update, and the repair of an interrupted ``pulumi up``."""

from __future__ import annotations

import itertools

import pytest
from pulumi.automation._cmd import CommandResult

from hybridburst.errors import HybridburstError
from hybridburst.providers.pulumi_driver import StackDriver

from .conftest import PSK, STACKS, CheckpointFakePulumi

STACK = "urn:pulumi:double11::hybridburst-aws-burst"
INSTANCE = "aws:ec2/instance:Instance"
WEB1 = f"{STACK}::hybridburst:aws:Burst${INSTANCE}::double11-web-1"
WEB2 = f"{STACK}::hybridburst:aws:Burst${INSTANCE}::double11-web-2"
SG = f"{STACK}::hybridburst:aws:Burst$aws:ec2/securityGroup:SecurityGroup::double11-hosts"

REFUSED = (
    "error: creating EC2 Instance: operation error EC2: RunInstances, https response error "
    "StatusCode: 400, RequestID: 9d2f6a1e-4c1b-4a7e-9d11-2b6c0f3e5a{i:02d}, api error "
    "InvalidParameterCombination: Network interfaces and an instance-level security groups may "
    "not be specified on the same request"
)
TERMINATED = ("error: waiting for EC2 Instance (i-0a1b2c3d4e5f607{i:02d}) create: unexpected "
              "state 'terminated', wanted target 'running'. last error: "
              "Client.InternalError: Client error on launch")


def driver(fake: CheckpointFakePulumi) -> StackDriver:
    return StackDriver(STACKS / "aws_burst", "hybridburst-aws-burst", "double11", fake)


def failed_up(instances: int = 2, extra: str = "", error: str = REFUSED) -> CommandResult:
    """What ``pulumi up`` prints when AWS refuses the instances: progress, then the
    ``Diagnostics:`` section, then the summary; stderr only has the CLI's own warning."""
    progress = ["Updating (double11):", "",
                " +  pulumi:pulumi:Stack hybridburst-aws-burst-double11 creating (0s)",
                " +  aws:ec2:Vpc double11-vpc created (2s)",
                " +  aws:ec2:LaunchTemplate double11-web created (1s)"]
    diagnostics = ["Diagnostics:"]
    for i in range(1, instances + 1):
        message = error.format(i=i)
        progress.append(f" +  aws:ec2:Instance double11-web-{i} **creating failed** {message}")
        diagnostics += [f"  aws:ec2:Instance (double11-web-{i}):", f"    {message}", ""]
    if extra:
        diagnostics += ["  aws:ec2:VpnConnection (double11-vpn):", f"    {extra}", ""]
    diagnostics += ["  pulumi:pulumi:Stack (hybridburst-aws-burst-double11):",
                    "    error: update failed", ""]
    summary = ["Resources:", "    + 12 created", "    1 unchanged", "", "Duration: 16s"]
    stderr = ("warning: A new version of Pulumi is available. To upgrade from version '3.272.0' "
              "to '3.280.0', run\n   $ curl -sSL https://get.pulumi.com | sh\n"
              "or visit https://pulumi.com/docs/install/ for manual instructions and release notes.")
    return CommandResult("\n".join(progress + diagnostics + summary), stderr, 255)


# What failed.
def test_a_refused_instance_is_reported_by_its_diagnostics_not_the_whole_dump(
        checkpoint_pulumi: CheckpointFakePulumi) -> None:
    checkpoint_pulumi.failures["up"] = failed_up(instances=1)
    with pytest.raises(HybridburstError) as err:
        driver(checkpoint_pulumi).up()
    message = str(err.value)
    assert message.splitlines() == [
        "pulumi up of aws_burst/double11 failed:",
        "  aws:ec2:Instance (double11-web-1):",
        f"    {REFUSED.format(i=1)}",
        "  pulumi:pulumi:Stack (hybridburst-aws-burst-double11):",
        "    error: update failed",
    ]
    for noise in ("Updating (double11)", "creating (0s)", "Resources:", "12 created", "Duration",
                  "A new version of Pulumi", "stdout:", "code: 255"):
        assert noise not in message


def test_forty_instances_refused_for_one_reason_read_as_one_message(
        checkpoint_pulumi: CheckpointFakePulumi) -> None:
    checkpoint_pulumi.failures["up"] = failed_up(instances=40)
    with pytest.raises(HybridburstError) as err:
        driver(checkpoint_pulumi).up()
    assert str(err.value).splitlines()[1:] == [
        "  aws:ec2:Instance (double11-web-1) and 39 more with the same message:",
        f"    {REFUSED.format(i=1)}",
        "  pulumi:pulumi:Stack (hybridburst-aws-burst-double11):",
        "    error: update failed",
    ]


def test_many_different_failures_show_only_the_last_lines(
        checkpoint_pulumi: CheckpointFakePulumi) -> None:
    checkpoint_pulumi.failures["up"] = failed_up(instances=40, error=TERMINATED)
    with pytest.raises(HybridburstError) as err:
        driver(checkpoint_pulumi).up()
    body = str(err.value).splitlines()[1:]
    assert len(body) <= 15
    assert body[0].strip().startswith("… (") and "earlier lines not shown" in body[0]
    assert "  aws:ec2:Instance (double11-web-40):" in body
    assert "  aws:ec2:Instance (double11-web-1):" not in body
    assert body[-1].strip() == "error: update failed"


def test_an_error_on_stderr_is_shown_line_by_line(checkpoint_pulumi: CheckpointFakePulumi) -> None:
    locked = (
        "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) "
        "to end or delete the lock file with `pulumi cancel`.\n"
        "  file:///root/.pulumi/locks/organization/hybridburst-aws-burst/double11/"
        "3b1f0c2e.json: created by root@controller (pid 4121) at 2025-11-10T06:00:01Z\n")
    checkpoint_pulumi.failures["refresh"] = CommandResult("Refreshing (double11):\n", locked, 255)
    with pytest.raises(HybridburstError) as err:
        driver(checkpoint_pulumi).refresh()
    assert str(err.value).splitlines() == [
        "pulumi refresh of aws_burst/double11 failed:",
        *(f"  {line}" for line in locked.splitlines()),
    ]


def test_a_secret_never_appears_in_the_message(checkpoint_pulumi: CheckpointFakePulumi) -> None:
    stack = driver(checkpoint_pulumi)
    stack.set_config({"event": "double11", "vpnPsk": PSK}, secrets=["vpnPsk"])
    checkpoint_pulumi.failures["up"] = failed_up(
        extra=f'error: tunnel1_preshared_key "{PSK}" is invalid; the CLI shows [secret] itself')
    with pytest.raises(HybridburstError) as err:
        stack.up()
    message = str(err.value)
    assert PSK not in message
    assert 'tunnel1_preshared_key "[secret]" is invalid' in message
    assert "double11" in message  # plain config values are not redacted


def test_a_failure_that_prints_nothing_says_so(checkpoint_pulumi: CheckpointFakePulumi) -> None:
    checkpoint_pulumi.failures["destroy"] = CommandResult("", "", 137)
    with pytest.raises(HybridburstError, match="exited with code 137 and printed nothing"):
        driver(checkpoint_pulumi).destroy()


# Progress.
def test_up_refresh_and_destroy_stream_each_line_in_order(
        checkpoint_pulumi: CheckpointFakePulumi) -> None:
    checkpoint_pulumi.up_outputs = {"burstCidr": "10.200.0.0/16"}
    for verb in ("refresh", "up", "destroy"):
        checkpoint_pulumi.emit[verb] = [f"{verb}: line {i}" for i in range(1, 4)]
    seen: list[str] = []
    stack = driver(checkpoint_pulumi)
    stack.refresh(on_output=seen.append)
    outputs = stack.up(on_output=seen.append)
    stack.destroy(on_output=seen.append)
    assert seen == [f"{verb}: line {i}" for verb in ("refresh", "up", "destroy")
                    for i in range(1, 4)]
    assert outputs == {"burstCidr": "10.200.0.0/16"}


def test_the_lines_of_a_failing_up_still_reach_the_display(
        checkpoint_pulumi: CheckpointFakePulumi) -> None:
    checkpoint_pulumi.failures["up"] = failed_up()
    seen: list[str] = []
    with pytest.raises(HybridburstError):
        driver(checkpoint_pulumi).up(on_output=seen.append)
    assert seen[0] == "Updating (double11):" and seen[-1] == "Duration: 16s"


def test_streamed_lines_never_carry_a_secret(checkpoint_pulumi: CheckpointFakePulumi) -> None:
    checkpoint_pulumi.up_outputs = {}
    checkpoint_pulumi.emit["up"] = [f" +  aws:ec2:VpnConnection double11-vpn creating psk={PSK}"]
    stack = driver(checkpoint_pulumi)
    stack.set_config({"vpnPsk": PSK}, secrets=["vpnPsk"])
    seen: list[str] = []
    stack.up(on_output=seen.append)
    assert seen == [" +  aws:ec2:VpnConnection double11-vpn creating psk=[secret]"]


def test_a_broken_display_does_not_stop_the_update(checkpoint_pulumi: CheckpointFakePulumi) -> None:
    checkpoint_pulumi.up_outputs = {"burstCidr": "10.200.0.0/16"}
    checkpoint_pulumi.emit["up"] = ["one", "two", "three"]
    calls: list[str] = []

    def broken(line: str) -> None:
        calls.append(line)
        raise OSError("the terminal went away")

    assert driver(checkpoint_pulumi).up(on_output=broken) == {"burstCidr": "10.200.0.0/16"}
    assert calls == ["one"]


# Interrupted updates.
def pending(urn: str, kind: str, **inputs: object) -> dict[str, object]:
    type_ = urn.split("::")[2].rpartition("$")[2]
    return {"resource": {"urn": urn, "custom": True, "type": type_, "inputs": inputs,
                         "parent": f"{STACK}::hybridburst:aws:Burst::double11"},
            "type": kind}


def refreshes(fake: CheckpointFakePulumi) -> list[list[str]]:
    return [args for _, args in fake.calls if args[0] == "refresh"]


def test_pending_creates_are_imported_when_found_and_cleared_when_not(
        checkpoint_pulumi: CheckpointFakePulumi) -> None:
    key = ("aws_burst", "double11")
    checkpoint_pulumi.pending[key] = [
        pending(WEB1, "creating", tags={"Name": "double11-web-1"}),
        pending(WEB2, "creating", tags={"Name": "double11-web-2"}),
        pending(SG, "updating"),
    ]
    asked: list[tuple[str, str, str]] = []

    def find(urn: str, type_: str, name: str) -> str | None:
        asked.append((urn, type_, name))
        return {"double11-web-1": "i-0a1b2c3d4e5f60718"}.get(name)

    seen: list[str] = []
    lines = driver(checkpoint_pulumi).resolve_pending(find, on_output=seen.append)

    assert asked == [(WEB1, INSTANCE, "double11-web-1"), (WEB2, INSTANCE, "double11-web-2")]
    [refresh] = refreshes(checkpoint_pulumi)
    assert [b for a, b in itertools.pairwise(refresh) if a == "--import-pending-creates"] == [
        WEB1, "i-0a1b2c3d4e5f60718"]
    assert "--clear-pending-creates" in refresh and "--yes" in refresh
    assert refresh[refresh.index("--stack") + 1] == "double11"
    assert lines == [
        f"aws_burst/double11: pending create of {INSTANCE} double11-web-1 found in the cloud as "
        "i-0a1b2c3d4e5f60718: imported into the stack",
        f"aws_burst/double11: pending create of {INSTANCE} double11-web-2 not found in the "
        "cloud: cleared from the stack",
        "aws_burst/double11: interrupted updating of aws:ec2/securityGroup:SecurityGroup "
        "double11-hosts: cleared by refresh",
    ]
    # The stack now knows the running instance, and nothing is pending any more.
    assert checkpoint_pulumi.pending[key] == []
    assert [(r["urn"], r["id"]) for r in checkpoint_pulumi.resources[key]] == [
        (WEB1, "i-0a1b2c3d4e5f60718")]
    assert driver(checkpoint_pulumi).resolve_pending(find) == []


def test_nothing_pending_runs_nothing_more(checkpoint_pulumi: CheckpointFakePulumi) -> None:
    def find(urn: str, type_: str, name: str) -> str | None:
        raise AssertionError("no lookup without a pending create")

    stack = driver(checkpoint_pulumi)
    stack.open()
    before = len(checkpoint_pulumi.calls)
    assert stack.resolve_pending(find) == []
    assert [args[:2] for _, args in checkpoint_pulumi.calls[before:]] == [["stack", "export"]]


def test_only_interrupted_updates_are_cleared_by_a_plain_refresh(
        checkpoint_pulumi: CheckpointFakePulumi) -> None:
    checkpoint_pulumi.pending[("aws_burst", "double11")] = [pending(SG, "deleting")]
    lines = driver(checkpoint_pulumi).resolve_pending()
    [refresh] = refreshes(checkpoint_pulumi)
    assert "--import-pending-creates" not in refresh and "--clear-pending-creates" not in refresh
    assert lines == ["aws_burst/double11: interrupted deleting of "
                     "aws:ec2/securityGroup:SecurityGroup double11-hosts: cleared by refresh"]


def test_without_a_lookup_a_pending_create_is_left_for_the_operator(
        checkpoint_pulumi: CheckpointFakePulumi) -> None:
    checkpoint_pulumi.pending[("aws_burst", "double11")] = [pending(WEB1, "creating")]
    with pytest.raises(HybridburstError) as err:
        driver(checkpoint_pulumi).resolve_pending()
    message = str(err.value)
    assert WEB1 in message and "nothing was changed" in message
    assert "refresh --yes --import-pending-creates URN --import-pending-creates ID" in message
    assert "--clear-pending-creates" in message
    assert refreshes(checkpoint_pulumi) == []


def test_a_failed_lookup_changes_nothing(checkpoint_pulumi: CheckpointFakePulumi) -> None:
    checkpoint_pulumi.pending[("aws_burst", "double11")] = [
        pending(WEB1, "creating"), pending(WEB2, "creating")]

    def find(urn: str, type_: str, name: str) -> str | None:
        if name.endswith("2"):
            raise ConnectionError("ec2.ap-southeast-1.amazonaws.com: timed out")
        return None

    with pytest.raises(HybridburstError) as err:
        driver(checkpoint_pulumi).resolve_pending(find)
    assert f"looking up {INSTANCE} double11-web-2 failed: ec2.ap-southeast-1" in str(err.value)
    assert refreshes(checkpoint_pulumi) == []
    assert len(checkpoint_pulumi.pending[("aws_burst", "double11")]) == 2


def test_a_secret_read_from_the_checkpoint_is_redacted_later(
        checkpoint_pulumi: CheckpointFakePulumi) -> None:
    secret = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
              "plaintext": f'"{PSK}"'}
    checkpoint_pulumi.resources[("aws_burst", "double11")] = [
        {"urn": f"{STACK}::aws:ec2/vpnConnection:VpnConnection::double11-vpn",
         "type": "aws:ec2/vpnConnection:VpnConnection", "id": "vpn-0123",
         "inputs": {"tunnel1PresharedKey": secret}}]
    stack = driver(checkpoint_pulumi)
    assert stack.resolve_pending() == []
    checkpoint_pulumi.failures["up"] = CommandResult("", f"error: bad key {PSK}", 1)
    with pytest.raises(HybridburstError) as err:
        stack.up()
    assert PSK not in str(err.value) and "bad key [secret]" in str(err.value)
