"""Time a mock run of the aws_burst program (Pulumi mocks, in-process, no CLI, no cloud).

    .venv/bin/python bench/bench_pulumi.py [COUNT ...]     (default: 100 1000)

Prints, per fleet size, the wall time of one full program run (config parsing, every
resource registered, all outputs resolved), the resources registered and the time per
resource and per instance. Not part of the test suite.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from hybridburst.infra import mocking, programs

BASE: dict[str, Any] = {
    "event": "double11",
    "team": "storefront",
    "burstExpiry": "2025-11-14T06:00:00Z",
    "vpcCidr": "10.200.0.0/16",
    "privateCidrs": ["10.0.0.0/12"],
    "availabilityZones": ["ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c"],
    "imageId": "ami-0123456789abcdef0",
    "sshPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBench hybridburst-bench",
    "customerGatewayAddress": "198.51.100.10",
    "gatewayPrivateAddress": "10.0.0.1",
    "vpnPsk": "Bench.psk_0123456789",
    "loadBalancerCidrs": ["10.0.10.0/24"],
}


def pools_for(count: int) -> list[str]:
    """Pools of at most 200 hosts (the event spec's limit per pool)."""
    out, left, i = [], count, 0
    while left:
        n = min(200, left)
        out.append(f"p{i}:{n}:c6i.large")
        left -= n
        i += 1
    return out


def run_once(count: int) -> tuple[float, int, int]:
    config = {**BASE, "pools": pools_for(count)}
    start = time.perf_counter()
    outputs, mocks = mocking.run_program(
        programs.aws_burst, project=programs.PROJECTS["aws_burst"], config=config,
        secret_keys=["vpnPsk"])
    elapsed = time.perf_counter() - start
    if len(outputs["hosts"]) != count:
        raise SystemExit(f"expected {count} hosts in the outputs, got {len(outputs['hosts'])}")
    return elapsed, len(mocks.resources), count


def main(argv: list[str]) -> int:
    counts = [int(a) for a in argv] or [100, 1000]
    run_once(5)  # warm-up: imports, provider SDK schema caches
    print(f"{'instances':>9} {'resources':>9} {'seconds':>8} {'ms/resource':>11} "
          f"{'ms/instance':>11}")
    results = {}
    for count in counts:
        elapsed, resources, _ = run_once(count)
        results[count] = elapsed
        print(f"{count:>9} {resources:>9} {elapsed:>8.2f} {1000 * elapsed / resources:>11.2f} "
              f"{1000 * elapsed / count:>11.2f}")
    if len(counts) >= 2:
        small, large = counts[0], counts[-1]
        print(f"ratio {large}/{small} instances: {results[large] / results[small]:.1f}x time "
              f"for {large / small:.0f}x instances")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
