"""The aws_burst stack: a thin program over hybridburst.infra (see README.md)."""

import pulumi

from hybridburst.infra import programs

for key, value in programs.aws_burst().items():
    pulumi.export(key, value)
