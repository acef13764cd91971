"""Policy validators over resource arguments: plain functions, unit-tested directly.

Each validator takes a resource type token and its input properties (camelCase, as the engine,
the Pulumi mocks and a CrossGuard ``ResourceValidationArgs.props`` all present them) and
returns the problems it finds, one message each. :func:`check` runs every policy over a
resource graph. The PolicyPack under ``pulumi_stacks/policy`` runs :func:`crossguard_policies`,
the same functions behind ``pulumi_policy``'s own classes, so ``pulumi up --policy-pack``
enforces exactly what the tests prove.

CrossGuard hands a validator read-only ``Mapping``/``Sequence`` proxies, never ``dict`` and
``list``: every validator reads properties through those abstract types only.

An AWS instance launched from a launch template without metadata options or block devices of
its own takes them from the template, which is checked itself (the stacks keep them there: an
instance-level copy changes the RunInstances request, see :mod:`.aws_burst`).
"""

from __future__ import annotations

import importlib
import inspect
import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from . import tags as tagkeys

Props = Mapping[str, Any]
Validator = Callable[[str, Props], list[str]]

AWS_INSTANCE = "aws:ec2/instance:Instance"
AWS_LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
OS_INSTANCE = "openstack:compute/instance:Instance"

#: Resources that belong to one pool and must carry ``hybridburst:pool``.
POOLED = frozenset({AWS_INSTANCE, AWS_LAUNCH_TEMPLATE, OS_INSTANCE})

#: Cinder volume types known to be encrypted (a volume type's encryption is set by the
#: cloud's operators; the stacks use ``volumeType``, default ``encrypted``).
ENCRYPTED_VOLUME_TYPES = frozenset({"encrypted"})


@dataclass(frozen=True)
class Violation:
    policy: str
    resource: str
    type: str
    message: str

    def __str__(self) -> str:
        return f"{self.policy}: {self.type} {self.resource}: {self.message}"


def _is_everywhere(cidr: Any) -> bool:
    if not isinstance(cidr, str) or not cidr:
        return False
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


def no_open_ingress(typ: str, props: Props) -> list[str]:
    """No security-group ingress from 0.0.0.0/0 or ::/0 (nor, in OpenStack, from anywhere
    by leaving the remote unset)."""
    out = []
    if typ == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        for key in ("cidrIpv4", "cidrIpv6"):
            if _is_everywhere(props.get(key)):
                out.append(f"ingress from {props[key]}")
    elif typ == "aws:ec2/securityGroup:SecurityGroup":
        for rule in props.get("ingress") or []:
            for cidr in [*(rule.get("cidrBlocks") or []), *(rule.get("ipv6CidrBlocks") or [])]:
                if _is_everywhere(cidr):
                    out.append(f"inline ingress from {cidr}")
    elif typ == "aws:ec2/securityGroupRule:SecurityGroupRule":
        if props.get("type") == "ingress":
            for cidr in [*(props.get("cidrBlocks") or []), *(props.get("ipv6CidrBlocks") or [])]:
                if _is_everywhere(cidr):
                    out.append(f"ingress from {cidr}")
    elif (typ == "openstack:networking/secGroupRule:SecGroupRule"
          and props.get("direction") == "ingress"):
        prefix = props.get("remoteIpPrefix")
        if _is_everywhere(prefix):
            out.append(f"ingress from {prefix}")
        elif not prefix and not props.get("remoteGroupId") and not props.get(
                "remoteAddressGroupId"):
            out.append("ingress without a remote prefix or group admits every address")
    return out


def imdsv2_required(typ: str, props: Props) -> list[str]:
    """AWS instances and launch templates require IMDSv2 session tokens."""
    if typ not in (AWS_INSTANCE, AWS_LAUNCH_TEMPLATE):
        return []
    if typ == AWS_INSTANCE and _from_template(props) and not props.get("metadataOptions"):
        return []  # the template's options apply; the template is checked itself
    options = props.get("metadataOptions") or {}
    if options.get("httpEndpoint") == "disabled":
        return []
    if options.get("httpTokens") != "required":
        return [f"metadataOptions.httpTokens is {options.get('httpTokens')!r}, not 'required'"]
    return []


def _from_template(props: Props) -> bool:
    """Launched from a launch template. Reads only the keys: the template's id is unknown
    during a preview, and reading an unknown value from a CrossGuard proxy raises."""
    template = props.get("launchTemplate")
    return isinstance(template, Mapping) and any(k in ("id", "name") for k in template)


def _truthy(value: Any) -> bool:
    return value is True or value == "true"


def volumes_encrypted(typ: str, props: Props,
                      encrypted_types: frozenset[str] = ENCRYPTED_VOLUME_TYPES) -> list[str]:
    """Every block volume is encrypted."""
    out = []
    if typ == AWS_INSTANCE:
        root = props.get("rootBlockDevice")
        if not root and _from_template(props):
            pass  # the template's block devices apply; the template is checked itself
        elif not root or not _truthy(root.get("encrypted")):
            out.append("root volume not encrypted (rootBlockDevice.encrypted)")
        for dev in props.get("ebsBlockDevices") or []:
            if not _truthy(dev.get("encrypted")):
                out.append(f"EBS volume {dev.get('deviceName')} not encrypted")
    elif typ == AWS_LAUNCH_TEMPLATE:
        for dev in props.get("blockDeviceMappings") or []:
            ebs = dev.get("ebs")
            if ebs is not None and not _truthy(ebs.get("encrypted")):
                out.append(f"EBS volume {dev.get('deviceName')} not encrypted")
    elif typ == "aws:ebs/volume:Volume":
        if not _truthy(props.get("encrypted")):
            out.append("EBS volume not encrypted")
    elif typ == OS_INSTANCE:
        for i, dev in enumerate(props.get("blockDevices") or []):
            if dev.get("destinationType") == "volume" and (
                    dev.get("volumeType") not in encrypted_types):
                out.append(f"blockDevices[{i}]: volume type {dev.get('volumeType')!r} is not "
                           f"an encrypted type ({', '.join(sorted(encrypted_types))})")
        if not any(d.get("destinationType") == "volume" for d in props.get("blockDevices") or []):
            out.append("boots from an ephemeral (unencrypted) disk; boot from a volume")
    elif (typ == "openstack:blockstorage/volume:Volume"
          and props.get("volumeType") not in encrypted_types):
        out.append(f"volume type {props.get('volumeType')!r} is not an encrypted type")
    return out


@cache
def _resource_class(typ: str) -> Any:
    try:
        package, token, name = typ.split(":")
    except ValueError:
        return None
    module_name = token.split("/")[0]
    base = {"aws": "pulumi_aws", "openstack": "pulumi_openstack"}.get(package)
    if base is None:
        return None
    try:
        module = importlib.import_module(base if module_name == "index"
                                         else f"{base}.{module_name}")
    except ImportError:
        return None
    return getattr(module, name, None)


@cache
def taggable(typ: str) -> bool:
    """Whether a resource type accepts tags (its constructor has a ``tags`` argument)."""
    cls = _resource_class(typ)
    if cls is None or not hasattr(cls, "_internal_init"):
        return False
    return "tags" in inspect.signature(cls._internal_init).parameters


def _tag_map(value: Any) -> dict[str, str]:
    """AWS tags (key to value) or OpenStack tags (``key=value`` strings), from plain values or
    CrossGuard's read-only proxies alike."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return tagkeys.parse_tag_strings([str(v) for v in value])
    return {}


def _tag_problems(found: dict[str, str], need_pool: bool, where: str) -> list[str]:
    need = [*tagkeys.REQUIRED, *([tagkeys.POOL] if need_pool else [])]
    missing = [k for k in need if not found.get(k)]
    out = [f"{where}missing tag {k}" for k in missing]
    expiry = found.get(tagkeys.BURST_EXPIRY)
    if expiry:
        try:
            tagkeys.parse_expiry(expiry)
        except ValueError as exc:
            out.append(f"{where}{tagkeys.BURST_EXPIRY}: {exc}")
    return out


def required_tags(typ: str, props: Props) -> list[str]:
    """Every taggable resource carries event, team and burst-expiry (and pool where one
    applies), under exactly the keys in :mod:`.tags`."""
    if not taggable(typ):
        return []
    need_pool = typ in POOLED
    out = _tag_problems(_tag_map(props.get("tags")), need_pool, "")
    if typ == OS_INSTANCE:
        out += _tag_problems(_tag_map(props.get("metadata")), need_pool, "metadata: ")
    if typ == AWS_LAUNCH_TEMPLATE:
        specs = props.get("tagSpecifications") or []
        kinds = {s.get("resourceType") for s in specs}
        for kind in ("instance", "volume"):
            if kind not in kinds:
                out.append(f"no tagSpecifications for {kind}s it launches")
        for spec in specs:
            out += _tag_problems(_tag_map(spec.get("tags")), need_pool,
                                 f"tagSpecifications[{spec.get('resourceType')}]: ")
    return out


def no_private_overlap(private_cidrs: Sequence[str]) -> Validator:
    """Burst networks (VPCs, subnets) share no address with the private cloud."""
    private = [ipaddress.ip_network(c, strict=False) for c in private_cidrs]
    keys = {
        "aws:ec2/vpc:Vpc": "cidrBlock",
        "aws:ec2/subnet:Subnet": "cidrBlock",
        "aws:ec2/vpcIpv4CidrBlockAssociation:VpcIpv4CidrBlockAssociation": "cidrBlock",
        "openstack:networking/subnet:Subnet": "cidr",
    }

    def validate(typ: str, props: Props) -> list[str]:
        key = keys.get(typ)
        value = props.get(key) if key else None
        if not isinstance(value, str):
            return []
        net = ipaddress.ip_network(value, strict=False)
        clash = [str(p) for p in private if p.overlaps(net)]
        return [f"{value} overlaps the private cloud's {', '.join(clash)}"] if clash else []

    return validate


def validators(private_cidrs: Sequence[str] = ()) -> dict[str, Validator]:
    """The policies by name (the names a PolicyPack reports)."""
    return {
        "no-open-ingress": no_open_ingress,
        "imdsv2-required": imdsv2_required,
        "volumes-encrypted": volumes_encrypted,
        "required-tags": required_tags,
        "no-private-overlap": no_private_overlap(private_cidrs),
    }


def check(resources: Iterable[tuple[str, str, Props]],
          private_cidrs: Sequence[str] = ()) -> list[Violation]:
    """Run every policy over ``(type, name, props)`` triples."""
    policies = validators(private_cidrs)
    out = []
    for typ, name, props in resources:
        for policy, validate in policies.items():
            out.extend(Violation(policy, name, typ, msg) for msg in validate(typ, props))
    return out


DESCRIPTIONS = {
    "no-open-ingress": "No security-group ingress from 0.0.0.0/0 or ::/0.",
    "imdsv2-required": "Instances and launch templates require IMDSv2.",
    "volumes-encrypted": "Every volume is encrypted.",
    "required-tags": "Taggable resources carry the hybridburst tags.",
    "no-private-overlap": "Burst networks do not overlap the private cloud.",
}


def crossguard_policies() -> list[Any]:
    """The validators as ``pulumi_policy.ResourceValidationPolicy`` objects, for the pack.

    ``no-private-overlap`` reads the private CIDRs from the policy configuration
    (``{"no-private-overlap": {"privateCidrs": [...]}}``). Building the policies starts
    nothing; only a ``PolicyPack`` does."""
    from pulumi_policy import PolicyConfigSchema, ResourceValidationPolicy

    def validate_with(name: str) -> Callable[..., None]:
        def validate(args: Any, report: Callable[..., None]) -> None:
            private = (args.get_config() or {}).get("privateCidrs") or []
            check = validators([str(c) for c in private])[name]
            for message in check(args.resource_type, args.props):
                report(message)

        return validate

    schema = PolicyConfigSchema(
        properties={"privateCidrs": {"type": "array", "items": {"type": "string"}}})
    return [
        ResourceValidationPolicy(
            name=name, description=text, validate=validate_with(name),
            config_schema=schema if name == "no-private-overlap" else None,
        )
        for name, text in DESCRIPTIONS.items()
    ]
