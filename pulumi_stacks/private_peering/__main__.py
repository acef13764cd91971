"""The private_peering stack: a thin program over hybridburst.infra (see README.md)."""

import pulumi

from hybridburst.infra import programs

for key, value in programs.private_peering().items():
    pulumi.export(key, value)
