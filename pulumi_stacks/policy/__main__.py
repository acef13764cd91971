"""A CrossGuard policy pack over hybridburst.infra.policy: `pulumi up --policy-pack <this dir>`.

Needs ``pulumi-policy`` (see requirements.txt). Configure the private CIDRs for the overlap
check with a policy config file: ``{"no-private-overlap": {"privateCidrs": ["10.0.0.0/12"]}}``.
Never imported by the tests: constructing a PolicyPack starts a server and blocks.
"""

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from hybridburst.infra import policy

DESCRIPTIONS = {
    "no-open-ingress": "No security-group ingress from 0.0.0.0/0 or ::/0.",
    "imdsv2-required": "Instances and launch templates require IMDSv2.",
    "volumes-encrypted": "Every volume is encrypted.",
    "required-tags": "Taggable resources carry the hybridburst tags.",
    "no-private-overlap": "Burst networks do not overlap the private cloud.",
}


def _validator(name: str) -> Any:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        private = (args.get_config() or {}).get("privateCidrs", [])
        check = policy.validators(private)[name]
        for message in check(args.resource_type, args.props):
            report(message)

    return validate


PolicyPack(
    name="hybridburst",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        ResourceValidationPolicy(
            name=name,
            description=text,
            validate=_validator(name),
            config_schema=PolicyConfigSchema(
                properties={"privateCidrs": {"type": "array", "items": {"type": "string"}}},
            ) if name == "no-private-overlap" else None,
        )
        for name, text in DESCRIPTIONS.items()
    ],
)
