"""Host keys of cloud hosts, from a channel the operator trusts: the instance console.

A burst host prints its SSH host public keys on its serial console at first boot, between
markers (see :mod:`hybridburst.infra.userdata`). The console is readable only with the
cloud's API credentials (``ec2:GetConsoleOutput``, Nova's ``os-getConsoleOutput``), so a key
read there is the host's own, never a key offered over the network on first contact. A host
whose keys do not appear within the timeout is quarantined with that reason: it is never
reached with a key that was not checked.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import HybridburstError
from ..infra.userdata import host_keys_from_console


class ConsoleUnavailable(HybridburstError):
    """The console API cannot be used at all (no credentials, no permission): waiting longer
    changes nothing."""


class Consoles(Protocol):
    """Reads the console output of one instance (by its provider id)."""

    label: str

    def output(self, instance_id: str) -> str:
        ...


class AwsConsoles:
    """``ec2:GetConsoleOutput`` (the latest output, base64 as the API returns it)."""

    label = "EC2 console output"

    def __init__(self, region: str | None, client: Any | None = None) -> None:
        self.region = region
        self._client = client

    def _ec2(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("ec2", region_name=self.region)
        return self._client

    def output(self, instance_id: str) -> str:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            NoCredentialsError,
            NoRegionError,
            PartialCredentialsError,
        )

        try:
            reply = self._ec2().get_console_output(InstanceId=instance_id, Latest=True)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("InvalidInstanceID.NotFound", "IncorrectInstanceState"):
                return ""
            if code in ("UnauthorizedOperation", "AuthFailure", "AccessDenied",
                        "UnrecognizedClientException", "InvalidClientTokenId"):
                raise ConsoleUnavailable(
                    f"ec2:GetConsoleOutput is refused ({code}); the host keys cannot be read") \
                    from exc
            raise HybridburstError(f"ec2 get-console-output {instance_id}: {code or exc}") from exc
        except (NoCredentialsError, PartialCredentialsError, NoRegionError) as exc:
            # No credentials, no region: nothing will change by waiting.
            raise ConsoleUnavailable(f"ec2 get-console-output: {exc}") from exc
        except BotoCoreError as exc:  # a transport error: this read failed, the next may not
            raise HybridburstError(f"ec2 get-console-output {instance_id}: {exc}") from exc
        text = reply.get("Output") or ""
        try:
            return base64.b64decode(text).decode("utf-8", errors="replace")
        except (ValueError, TypeError):
            return text


class OpenStackConsoles:
    """Nova's console log (``openstack console log show``) through openstacksdk."""

    label = "Nova console log"

    def __init__(self, cloud: str | None = None, region: str | None = None,
                 connection: Any | None = None) -> None:
        self.cloud = cloud
        self.region = region
        self._conn = connection

    def connection(self) -> Any:
        """The openstacksdk Connection (made on first use)."""
        if self._conn is None:
            try:
                import openstack
            except ImportError as exc:
                raise ConsoleUnavailable(
                    "reading host keys from Nova's console needs openstacksdk "
                    "(pip install openstacksdk)") from exc
            try:
                self._conn = openstack.connect(cloud=self.cloud, region_name=self.region)
            except Exception as exc:  # openstack.exceptions.ConfigException and kin
                raise ConsoleUnavailable(f"openstack connect (cloud {self.cloud!r}): {exc}") \
                    from exc
        return self._conn

    def output(self, instance_id: str) -> str:
        try:
            reply = self.connection().compute.get_server_console_output(instance_id)
        except ConsoleUnavailable:
            raise
        except Exception as exc:  # openstacksdk's HttpException carries status_code
            status = getattr(exc, "status_code", None)
            if status in (404, 409):  # not there yet, or still building
                return ""
            if status in (401, 403):
                raise ConsoleUnavailable(
                    f"Nova refuses the console log ({status}); the host keys cannot be read") \
                    from exc
            raise HybridburstError(f"nova console log {instance_id}: {exc}") from exc
        if isinstance(reply, Mapping):
            return str(reply.get("output") or "")
        return str(reply or "")


class EmulatedConsoles:
    """The emulated cloud's console logs (see :mod:`.emulated.cloud`)."""

    label = "console log (EMULATED: the instance's terminal, captured by podman)"

    def __init__(self, read: Callable[[str], str]) -> None:
        self._read = read

    def output(self, instance_id: str) -> str:
        return self._read(instance_id)


@dataclass
class KeyHarvest:
    keys: dict[str, list[str]]  # host -> "type base64" public keys
    missing: dict[str, str]  # host -> why not


def harvest_host_keys(
    hosts: Iterable[Mapping[str, Any]],
    consoles: Consoles,
    *,
    timeout: float,
    interval: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> KeyHarvest:
    """Poll each host's console until its host keys appear or ``timeout`` passes.

    ``hosts`` are manifest host records (``name``, ``provider_id``). One failing console read
    never stops the others: that host is reported missing with the reason."""
    pending = {h["name"]: str(h["provider_id"]) for h in hosts}
    keys: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    deadline = clock() + timeout
    while pending:
        for name, instance_id in list(pending.items()):
            try:
                found = host_keys_from_console(consoles.output(instance_id), name)
            except ConsoleUnavailable as exc:
                errors.update(dict.fromkeys(pending, str(exc)))
                return KeyHarvest(keys, {n: f"no SSH host keys: {exc}" for n in pending})
            except HybridburstError as exc:
                errors[name] = str(exc)
                continue
            if found:
                keys[name] = found
                del pending[name]
                errors.pop(name, None)
        if not pending or clock() >= deadline:
            break
        sleep(min(interval, max(0.0, deadline - clock())))
    missing = {
        name: (f"no SSH host keys on the {consoles.label} within {timeout:.0f}s"
               + (f" (last error: {errors[name]})" if name in errors else ""))
        for name in pending
    }
    return KeyHarvest(keys, missing)
