# ruff: noqa: ANN001  (pytest fixtures)
"""After converging each area alone on a plain container: what could not apply is not claimed."""

from __future__ import annotations

import re

testinfra_hosts = ["podman://baseline-min-1"]


def test_no_sysctl_claimed_on_a_read_only_proc_sys(host):
    content = host.file("/etc/sysctl.d/90-baseline.conf").content_string
    assert not re.search(r"^[a-z]", content, re.M), "a setting line was written although none applies"
    assert "# not applied here: net.ipv4.tcp_syncookies = 1 (read-only here" in content
    assert "# not applied here: kernel.randomize_va_space = 2 (machine-wide" in content


def test_firewall_not_claimed_without_net_admin(host):
    assert not host.file("/etc/nftables.conf").contains("inet baseline")
    assert not host.service("nftables").is_enabled


def test_chrony_configured_not_started(host):
    assert host.file("/etc/chrony/chrony.conf").contains("^server 127.0.0.1 iburst$")
    assert not host.service("chrony").is_running


def test_the_other_areas_applied(host):
    assert host.run("sshd -T | grep -qx 'permitrootlogin no'").rc == 0
    assert host.service("prometheus-node-exporter").is_running
    assert host.service("rsyslog").is_running
    assert host.file("/etc/shadow").mode == 0o640
    assert host.run("visudo -c").rc == 0
