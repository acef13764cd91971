"""A CrossGuard policy pack over hybridburst.infra.policy: `pulumi up --policy-pack <this dir>`.

The policies are ``hybridburst.infra.policy.crossguard_policies()``: the validators the tests
prove, behind ``pulumi_policy``'s classes (tested there with CrossGuard-shaped arguments).
Configure the private CIDRs for the overlap check with a policy config file:
``{"no-private-overlap": {"privateCidrs": ["10.0.0.0/12"]}}``.
Never imported by the tests: constructing a PolicyPack starts a server and blocks.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from hybridburst.infra import policy

PolicyPack(
    name="hybridburst",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=policy.crossguard_policies(),
)
