"""Settlement reports: a rich table, JSON, CSV and a self-contained HTML page.

Money is written as exact decimal strings in JSON and CSV (``"12.35"``), never floats.
The HTML page carries everything inline (CSS and two SVG charts, no script, no external
asset) and a Content-Security-Policy that forbids fetching anything.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal
from html import escape
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .estimate import Estimate
from .money import format_money, format_rate, hours
from .settlement import Row, Settlement

FORMATS = ("table", "json", "csv", "html")
GROUP_TITLES = {"team": "Team", "pool": "Pool", "instance_type": "Instance type"}
ROUNDING = ("each line item (one pool, or the event's VPN) is rounded once to the currency's "
            "minor unit, half up; subtotals and totals are sums of line items")
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#17becf")
ESTIMATE_COLOUR = "#b8c4d0"


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _row_json(row: Row) -> dict[str, Any]:
    return {
        "name": row.name,
        "units_estimated": row.units_estimated,
        "units_actual": row.units_actual,
        "hours_estimated": str(hours(row.seconds_estimated)),
        "hours_actual": str(hours(row.seconds_actual)),
        "estimate": _money(row.estimate),
        "actual": str(row.actual),
        "difference": _money(row.difference),
        "quarantined_hosts": row.quarantined,
    }


def as_json(s: Settlement) -> dict[str, Any]:
    return {
        "event": s.event,
        "team": s.team,
        "provider": s.provider,
        "region": s.region,
        "currency": s.currency,
        "as_of": s.as_of.isoformat(),
        "totals": {
            "estimate": _money(s.estimate_total),
            "actual": str(s.actual_total),
            "difference": _money(s.difference),
            "budget": _money(s.budget),
            "budget_currency": s.budget_currency,
        },
        "estimate_note": s.estimate_note,
        "by_team": [_row_json(r) for r in s.rows("team")],
        "by_pool": [_row_json(r) for r in s.rows("pool")],
        "by_instance_type": [_row_json(r) for r in s.rows("instance_type")],
        "lines": [
            {
                "team": ln.key.team, "pool": ln.key.pool, "kind": ln.key.kind,
                "instance_type": ln.key.instance_type, "provider": ln.key.provider,
                "region": ln.key.region, "units": ln.units, "billed_seconds": ln.billed_seconds,
                "hourly": str(ln.hourly), "amount": str(ln.amount),
            }
            for ln in s.lines
        ],
        "estimate": s.estimate.as_json() if s.estimate else None,
        "hosts": [u.as_json() for u in s.usage],
        "still_running": [u.host for u in s.running],
        "price_sources": [src.describe() for src in s.sources],
        "rounding": ROUNDING,
    }


def to_json(s: Settlement) -> str:
    return json.dumps(as_json(s), indent=2) + "\n"


CSV_COLUMNS = ("event", "group", "name", "units_estimated", "units_actual", "hours_estimated",
               "hours_actual", "estimate", "actual", "difference", "currency",
               "quarantined_hosts")


def to_csv(s: Settlement) -> str:
    """One row per team, pool and instance type (column ``group``), then the event total."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for group in GROUP_TITLES:
        for row in s.rows(group):
            j = _row_json(row)
            writer.writerow([s.event, group, row.name, row.units_estimated, row.units_actual,
                             j["hours_estimated"], j["hours_actual"], j["estimate"] or "",
                             j["actual"], j["difference"] or "", s.currency, row.quarantined])
    pools = s.rows("pool")
    writer.writerow([
        s.event, "event", s.event,
        sum(r.units_estimated for r in pools if r.name != "(network)"),
        sum(r.units_actual for r in pools if r.name != "(network)"),
        str(hours(sum(r.seconds_estimated for r in pools if r.name != "(network)"))),
        str(hours(sum(r.seconds_actual for r in pools if r.name != "(network)"))),
        _money(s.estimate_total) or "", str(s.actual_total), _money(s.difference) or "",
        s.currency, sum(r.quarantined for r in pools),
    ])
    return out.getvalue()


# ---------------------------------------------------------------- rich table


def _diff_text(value: Decimal | None, currency: str) -> Text:
    if value is None:
        return Text("-")
    style = "red" if value > 0 else "green" if value < 0 else ""
    return Text(format_money(value, currency, sign=True), style=style)


def _group_table(s: Settlement, group: str) -> Table:
    unit = "hosts" if group != "instance_type" else "units"
    table = Table(title=f"By {GROUP_TITLES[group].lower()}", title_justify="left")
    table.add_column(GROUP_TITLES[group])
    table.add_column(f"{unit} est.", justify="right")
    table.add_column(f"{unit} act.", justify="right")
    table.add_column("hours est.", justify="right")
    table.add_column("hours act.", justify="right")
    table.add_column("estimate", justify="right")
    table.add_column("actual", justify="right")
    table.add_column("difference", justify="right")
    for row in s.rows(group):
        name = row.name + (f" ({row.quarantined} quarantined)" if row.quarantined else "")
        table.add_row(
            name, str(row.units_estimated), str(row.units_actual),
            f"{hours(row.seconds_estimated):.2f}", f"{hours(row.seconds_actual):.2f}",
            format_money(row.estimate, s.currency), format_money(row.actual, s.currency),
            _diff_text(row.difference, s.currency),
        )
    return table


def render_table(s: Settlement, console: Console) -> None:
    head = Text.assemble(
        (f"{s.event}", "bold"), f"  team {s.team}  provider {s.provider}",
        f"  region {s.region}" if s.region else "",
        f"\nas of {s.as_of.isoformat(timespec='seconds')}",
        "\nestimate ", format_money(s.estimate_total, s.currency),
        "   actual ", (format_money(s.actual_total, s.currency), "bold"),
        "   difference ", _diff_text(s.difference, s.currency),
    )
    if s.budget is not None:
        head.append(f"\nbudget {format_money(s.budget, s.budget_currency or s.currency)}")
        if s.budget_currency in (None, s.currency) and s.actual_total > s.budget:
            head.append("  OVER BUDGET", style="bold red")
    console.print(Panel(head, title="settlement", expand=False))
    for note in _notes(s):
        console.print(Text(note, style="yellow"))
    console.print(Group(*(_group_table(s, g) for g in GROUP_TITLES)))
    console.print(Text(f"Money: {ROUNDING}.", style="dim"))
    for src in s.sources:
        console.print(Text(f"Prices: {src.describe()}", style="dim"), soft_wrap=True)


def _notes(s: Settlement) -> list[str]:
    notes = []
    if s.estimate_note:
        notes.append(s.estimate_note)
    if s.running:
        names = ", ".join(u.host for u in s.running[:8]) + (" ..." if len(s.running) > 8 else "")
        notes.append(f"{len(s.running)} host(s) not destroyed, billed up to the settlement "
                     f"time and still billing: {names}")
    return notes


def render_estimate(est: Estimate, console: Console) -> None:
    """The estimate as `hybridburst plan` shows it: one row per line item, then the total."""
    span = "1 h (no window)" if est.per_hour_only else f"{hours(est.window_seconds or 0):.2f} h"
    table = Table(title=f"Estimate for {est.event} ({est.provider}"
                        f"{' ' + est.region if est.region else ''}, {span})",
                  title_justify="left")
    for column in ("pool", "instance type", "units", "per unit-hour", "billed hours", "cost"):
        table.add_column(column, justify="left" if column in ("pool", "instance type")
                         else "right")
    for ln in est.lines:
        table.add_row(ln.key.pool, ln.key.instance_type, str(ln.units),
                      format_rate(ln.hourly, est.currency),
                      f"{hours(ln.billed_seconds):.2f}", format_money(ln.amount, est.currency))
    total = est.hourly if est.per_hour_only else est.total
    table.add_section()
    table.add_row("total", "", "", "", "", Text(format_money(total, est.currency), style="bold"))
    console.print(table)
    console.print(est.summary())
    for src in est.sources:
        console.print(Text(f"Prices: {src.describe()}", style="dim"), soft_wrap=True)


# ---------------------------------------------------------------- HTML


def _fmt_time(moment: dt.datetime, span: dt.timedelta) -> str:
    moment = moment.astimezone(dt.UTC)
    if span <= dt.timedelta(hours=6):
        return moment.strftime("%H:%M:%S")
    if span <= dt.timedelta(days=2):
        return moment.strftime("%d %H:%M")
    return moment.strftime("%m-%d %H:%M")


def _colours(pools: list[str]) -> dict[str, str]:
    return {pool: PALETTE[i % len(PALETTE)] for i, pool in enumerate(pools)}


def hosts_chart(s: Settlement, colours: dict[str, str]) -> str:
    """Stacked step chart: billed hosts per pool over time."""
    segments = s.timeline()
    width, height, left, right, top, bottom = 880, 280, 48, 16, 14, 40
    if not segments:
        return ('<svg class="chart" role="img" aria-label="no host was billed" width="880" '
                'height="60"><text x="10" y="35">No host was launched.</text></svg>')
    t0, t1 = segments[0][0], segments[-1][1]
    span = t1 - t0
    total_s = max(span.total_seconds(), 1.0)
    peak = max(max((sum(c.values()) for _, _, c in segments), default=1), 1)
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(moment: dt.datetime) -> float:
        return left + (moment - t0).total_seconds() / total_s * plot_w

    def y(count: float) -> float:
        return top + plot_h - count / peak * plot_h

    parts = [f'<svg class="chart" role="img" aria-label="hosts over time per pool" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             'shape-rendering="crispEdges">']
    step = max(1, -(-peak // 5))
    for value in range(0, peak + 1, step):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" '
                     f'y2="{y(value):.1f}" stroke="#e3e3e3"/>'
                     f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value}</text>')
    for start, end, counts in segments:
        base = 0
        for pool, colour in colours.items():
            n = counts.get(pool, 0)
            if n == 0:
                continue
            parts.append(
                f'<rect class="pool-{escape(pool)}" x="{x(start):.2f}" y="{y(base + n):.2f}" '
                f'width="{max(x(end) - x(start), 0.5):.2f}" height="{y(base) - y(base + n):.2f}" '
                f'fill="{colour}"><title>{escape(pool)}: {n} host(s) from '
                f'{escape(start.isoformat())}</title></rect>'
            )
            base += n
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(0):.1f}" y2="{y(0):.1f}" '
                 f'stroke="#333"/>')
    for i in range(6):
        moment = t0 + span * i / 5
        anchor = "start" if i == 0 else "end" if i == 5 else "middle"
        parts.append(f'<text x="{x(moment):.1f}" y="{height - bottom + 18}" '
                     f'text-anchor="{anchor}">{escape(_fmt_time(moment, span))}</text>')
    parts.append(f'<text x="{left}" y="{height - 4}" class="axis">time (UTC)</text>'
                 f'<text x="{width - right}" y="{height - 4}" text-anchor="end" class="axis">'
                 f'peak {peak} billed host(s)</text></svg>')
    return "".join(parts)


def cost_chart(s: Settlement, colours: dict[str, str]) -> str:
    """Horizontal bars per pool: estimate (grey) and actual (the pool's colour)."""
    rows = s.rows("pool")
    if not rows:
        return ""
    label_w, bar_h, gap, width = 150, 16, 14, 880
    value_w = 150
    peak = max([r.actual for r in rows] + [r.estimate or Decimal(0) for r in rows]
               + [Decimal("0.01")])
    plot_w = width - label_w - value_w
    height = len(rows) * (2 * bar_h + gap) + 10
    parts = [f'<svg class="chart" role="img" aria-label="cost per pool" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" shape-rendering="crispEdges">']
    for i, row in enumerate(rows):
        top = 5 + i * (2 * bar_h + gap)
        colour = colours.get(row.name, "#555555")
        parts.append(f'<text x="{label_w - 8}" y="{top + bar_h + 4}" text-anchor="end">'
                     f'{escape(row.name)}</text>')
        for j, (value, fill, label) in enumerate((
            (row.estimate, ESTIMATE_COLOUR, "estimate"), (row.actual, colour, "actual"),
        )):
            amount = value if value is not None else Decimal(0)
            bar = float(amount / peak) * plot_w
            y0 = top + j * bar_h
            parts.append(
                f'<rect class="{label}" x="{label_w}" y="{y0}" width="{max(bar, 0.5):.2f}" '
                f'height="{bar_h - 2}" fill="{fill}"><title>{escape(row.name)} {label}: '
                f'{escape(format_money(value, s.currency))}</title></rect>'
                f'<text x="{label_w + bar + 6:.1f}" y="{y0 + bar_h - 5}" class="value">'
                f'{label} {escape(format_money(value, s.currency))}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _html_table(s: Settlement, group: str) -> str:
    head = "".join(f"<th>{h}</th>" for h in (
        GROUP_TITLES[group], "units est.", "units act.", "hours est.", "hours act.",
        "estimate", "actual", "difference", "quarantined"))
    body = []
    for row in s.rows(group):
        diff = row.difference
        cls = "over" if diff is not None and diff > 0 else "under" if diff is not None else ""
        body.append(
            f"<tr><td>{escape(row.name)}</td><td>{row.units_estimated}</td>"
            f"<td>{row.units_actual}</td><td>{hours(row.seconds_estimated):.2f}</td>"
            f"<td>{hours(row.seconds_actual):.2f}</td>"
            f"<td>{escape(format_money(row.estimate, s.currency))}</td>"
            f"<td>{escape(format_money(row.actual, s.currency))}</td>"
            f'<td class="{cls}">{escape(format_money(diff, s.currency, sign=True))}</td>'
            f"<td>{row.quarantined}</td></tr>"
        )
    return (f"<h3>By {GROUP_TITLES[group].lower()}</h3><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def _hosts_table(s: Settlement) -> str:
    rows = []
    for u in s.usage:
        flags = ", ".join(f for f, on in (("quarantined", u.quarantined), ("failed", u.failed),
                                           ("still running", u.running)) if on)
        rows.append(
            f"<tr><td>{escape(u.host)}</td><td>{escape(u.pool)}</td>"
            f"<td>{escape(u.instance_type)}</td><td>{escape(u.launched.isoformat())}</td>"
            f"<td>{escape(u.destroyed.isoformat()) if u.destroyed else '-'}</td>"
            f"<td>{u.billed_seconds}</td><td>{escape(flags)}</td></tr>"
        )
    return ("<h3>Hosts</h3><table><thead><tr><th>host</th><th>pool</th><th>type</th>"
            "<th>launched</th><th>destroyed</th><th>billed s</th><th></th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px} h3{font-size:15px}
.meta{color:#555} .totals span{display:inline-block;margin-right:28px}
.totals b{font-size:18px} .over{color:#b00020} .under{color:#1b7f3a}
table{border-collapse:collapse;margin:6px 0 16px} th,td{padding:3px 10px;text-align:right}
th:first-child,td:first-child{text-align:left} thead th{border-bottom:1px solid #999}
tbody tr:nth-child(even){background:#f4f6f8} .note{color:#8a5a00}
svg.chart{display:block;margin:6px 0} svg text{font-size:12px;fill:#333}
.legend span{display:inline-block;margin-right:16px} .legend i{display:inline-block;
width:12px;height:12px;margin-right:5px;vertical-align:-1px}
footer{color:#666;font-size:12px;margin-top:24px}
"""


def to_html(s: Settlement) -> str:
    colours = _colours(s.pools())
    legend = "".join(f'<span><i style="background:{c}"></i>{escape(p)}</span>'
                     for p, c in colours.items())
    cost_legend = (f'<span><i style="background:{ESTIMATE_COLOUR}"></i>estimate</span>'
                   '<span>actual in the pool\'s colour</span>')
    diff = s.difference
    diff_cls = "" if diff is None else "over" if diff > 0 else "under"
    budget = ""
    if s.budget is not None:
        budget = (f"<span>budget<br><b>{escape(format_money(s.budget, s.budget_currency or s.currency))}"
                  "</b></span>")
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in _notes(s))
    sources = "".join(f"<li>{escape(src.describe())}</li>" for src in s.sources)
    where = f"{s.provider}" + (f" {s.region}" if s.region else "")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Settlement {escape(s.event)}</title><style>{_CSS}</style></head>
<body>
<h1>Settlement of {escape(s.event)}</h1>
<p class="meta">team {escape(s.team)} &middot; {escape(where)} &middot; as of
{escape(s.as_of.isoformat(timespec="seconds"))}</p>
<p class="totals"><span>estimate<br><b>{escape(format_money(s.estimate_total, s.currency))}</b></span>
<span>actual<br><b>{escape(format_money(s.actual_total, s.currency))}</b></span>
<span>difference<br><b class="{diff_cls}">{escape(format_money(diff, s.currency, sign=True))}</b></span>
{budget}</p>
{notes}
<h2>Hosts over time</h2>
<p class="legend">{legend}</p>
{hosts_chart(s, colours)}
<h2>Cost per pool</h2>
<p class="legend">{cost_legend}</p>
{cost_chart(s, colours)}
<h2>Estimate against actual</h2>
{''.join(_html_table(s, g) for g in GROUP_TITLES)}
{_hosts_table(s)}
<footer><p>Money: {escape(ROUNDING)}. Billing: per second with the provider's minimum per
launch..destroy interval; quarantined hosts are billed until destroyed; hosts not destroyed
are billed up to the settlement time.</p><p>Prices:</p><ul>{sources}</ul></footer>
</body></html>
"""


def render(s: Settlement, fmt: str) -> str:
    """``json``, ``csv`` or ``html`` as text (the table goes to a console instead)."""
    if fmt == "json":
        return to_json(s)
    if fmt == "csv":
        return to_csv(s)
    if fmt == "html":
        return to_html(s)
    raise ValueError(f"unknown format {fmt!r}")
