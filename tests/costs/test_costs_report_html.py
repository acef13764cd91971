"""The HTML settlement report: self-contained, and its charts really render (headless
Debian chromium takes a screenshot; the pools' colours must fill the chart areas)."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hybridburst import spec as spec_mod
from hybridburst.costs import estimate, load_catalog, report, settle
from hybridburst.costs.settlement import Settlement
from hybridburst.journal import Entry
from hybridburst.plan import make_plan
from hybridburst.states import HostState as S
from tests.costs.costs_helpers import at, read_png, write_spec

T0 = at("2026-11-11T08:00:00")
WIDTH, HEIGHT = 960, 900


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


SPEC = """
event: d11
team: shop
provider: aws
region: us-east-1
window: {start: "2026-11-11T08:00:00Z", end: "2026-11-11T18:00:00Z"}
pools:
  - {name: web, count: 8, instance_type: c6i.large}
  - {name: api, count: 4, instance_type: m6i.xlarge}
  - {name: cache, count: 1, instance_type: r6i.large}
"""


def sale(tmp_path: Path, team: str = "shop") -> Settlement:
    """Three pools ramping up for a sale and back down, one host still running."""
    entries: list[Entry] = []

    def host(name: str, pool: str, itype: str, start_min: int, end_min: int | None) -> None:
        data: dict[str, Any] = {"pool": pool, "instance_type": itype, "team": team,
                                "event": "d11"}
        start = T0 + dt.timedelta(minutes=start_min)
        entries.append(Entry(start, name, S.LAUNCHED, None, "", data))
        if end_min is not None:
            entries.append(Entry(T0 + dt.timedelta(minutes=end_min), name, S.DESTROYED,
                                 S.LAUNCHED, "", {}))

    for i in range(8):
        host(f"d11-web-{i:02d}", "web", "c6i.large", i * 10, 600 - i * 15)
    for i in range(4):
        host(f"d11-api-{i:02d}", "api", "m6i.xlarge", 30 + i * 20, 540)
    host("d11-cache-01", "cache", "r6i.large", 0, None)
    est = estimate(make_plan(spec_mod.load(write_spec(tmp_path / "spec.yml", SPEC))))
    return settle(entries, event="d11", team=team, provider="aws", region="us-east-1",
                  as_of=T0 + dt.timedelta(hours=11), prices=load_catalog(), estimate=est)


def test_report_is_self_contained_and_escaped(tmp_path: Path) -> None:
    html = report.to_html(sale(tmp_path, team="<b>shop</b>"))
    assert "<script" not in html.lower()
    assert not re.search(r"https?:|\bsrc=|url\(|@import|<link", html)
    assert "content=\"default-src 'none'; style-src 'unsafe-inline'\"" in html
    assert "&lt;b&gt;shop&lt;/b&gt;" in html and "<b>shop</b>" not in html
    assert html.count("<svg") == 2
    # one rect per pool per timeline segment where it has hosts, plus two bars per pool
    assert html.count('class="pool-web"') > 10
    assert 'class="estimate"' in html and 'class="actual"' in html
    assert "1 host(s) not destroyed" in html


def screenshot(page: Path, work: Path) -> bytes:
    chromium = shutil.which("chromium")
    assert chromium, "needs Debian's chromium (apt-get install -y chromium)"
    shot = work / "shot.png"
    home = work / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache")}
    result = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={work / 'profile'}",
         # nothing may leave the machine: no name resolves, no proxy is tried
         "--host-resolver-rules=MAP * ~NOTFOUND", "--no-proxy-server",
         "--force-color-profile=srgb", "--hide-scrollbars",
         f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={shot}", page.as_uri()],
        capture_output=True, text=True, timeout=90, env=env, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.is_file(), result.stderr[-2000:]
    return shot.read_bytes()


def rows_of(png: bytes) -> list[list[tuple[int, int, int]]]:
    width, height, pixels = read_png(png)
    assert (width, height) == (WIDTH, HEIGHT)
    return [pixels[y * width:(y + 1) * width] for y in range(height)]


def count(rows: list[list[tuple[int, int, int]]]) -> Counter[tuple[int, int, int]]:
    return Counter(p for row in rows for p in row)


def test_chromium_renders_the_charts(tmp_path: Path) -> None:
    s = sale(tmp_path)
    page = tmp_path / "report.html"
    page.write_text(report.to_html(s), encoding="utf-8")
    rows = rows_of(screenshot(page, tmp_path))

    non_white = sum(n for rgb, n in count(rows).items() if rgb != (255, 255, 255))
    assert non_white > 0.05 * WIDTH * HEIGHT
    colours = {pool: _rgb(c) for pool, c in zip(s.pools(), report.PALETTE, strict=False)}
    assert list(colours) == ["cache", "web", "api"]
    # the cost chart starts at the first row with a long run of the estimate bars' colour
    estimate = _rgb(report.ESTIMATE_COLOUR)
    bars = [y for y, row in enumerate(rows) if row.count(estimate) > 50]
    assert bars, "no estimate bar rendered"
    hosts_chart, cost_chart = count(rows[:bars[0]]), count(rows[bars[0]:])
    # a legend swatch is 12 x 12 px: thousands of pixels are the stacked areas
    for pool, rgb in colours.items():
        assert hosts_chart[rgb] > 3000, (pool, hosts_chart[rgb])
    # each pool's actual bar, at least 1.39 / 7.68 of the widest (about 100 x 14 px)
    for pool, rgb in colours.items():
        assert cost_chart[rgb] > 800, (pool, cost_chart[rgb])
    assert cost_chart[estimate] > 4 * 600


def test_the_pixel_check_sees_a_missing_chart(tmp_path: Path) -> None:
    """The same page without its SVG: only legend swatches keep the pools' colours."""
    html = re.sub(r"<svg.*?</svg>", "", report.to_html(sale(tmp_path)), flags=re.S)
    page = tmp_path / "nochart.html"
    page.write_text(html, encoding="utf-8")
    counts = count(rows_of(screenshot(page, tmp_path)))
    assert 0 < counts[_rgb(report.PALETTE[0])] < 300  # the legend's swatch only


def test_png_reader_checks_its_input() -> None:
    with pytest.raises(ValueError, match="not a PNG"):
        read_png(b"GIF89a")
