"""Generate vendorwatch's Grafana dashboards as JSON from plain Python dicts.

Run ``python deploy/grafana/generate.py`` after editing a panel; ``--check`` exits 1 when the
committed JSON differs (the test suite does the same). Dashboards are code so that a query lives
in one place, reviews show the query rather than 2,000 lines of JSON, and every panel's query can
be evaluated against a real Prometheus (``panel_queries()``, used by
``tests/integration/test_dashboards_live.py``).

Only the standard library is used: the file runs from a bare checkout, and the generated JSON
uses Grafana's plain dashboard model (schemaVersion 39, Grafana 10/11).

Panels read the recording rules of ``deploy/prometheus/rules/vendorwatch.rules.yml`` where one
exists, so the dashboards stay cheap with many vendors and a vendor's line survives a rebalance.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE_UID = "vendorwatch-prometheus"
"""Must equal the uid in provisioning/datasources/prometheus.yml."""
DATASOURCE: dict[str, str] = {"type": "prometheus", "uid": DATASOURCE_UID}
PORTFOLIO_UID = "vendorwatch-portfolio"
PIPELINE_UID = "vendorwatch-pipeline"
"""The pipeline alerts' ``dashboard`` annotation links to /d/<this uid>."""
VENDOR_VARIABLE_QUERY = "label_values(vendorwatch_vendor_risk_score, vendor)"

Json = dict[str, Any]

SEVERITY_MAPPINGS: list[Json] = [
    {
        "type": "value",
        "options": {
            "0": {"text": "info", "color": "blue", "index": 0},
            "1": {"text": "low", "color": "green", "index": 1},
            "2": {"text": "medium", "color": "yellow", "index": 2},
            "3": {"text": "high", "color": "orange", "index": 3},
            "4": {"text": "critical", "color": "red", "index": 4},
        },
    }
]
SEVERITY_COLORS: dict[str, str] = {
    "info": "blue",
    "low": "green",
    "medium": "yellow",
    "high": "orange",
    "critical": "red",
}
RISK_THRESHOLDS: Json = {
    "mode": "absolute",
    "steps": [
        {"color": "green", "value": None},
        {"color": "yellow", "value": 40},
        {"color": "orange", "value": 60},
        {"color": "red", "value": 80},
    ],
}


@dataclass(frozen=True)
class Query:
    """One Prometheus query of a panel: range for graphs, instant for tables and bars."""

    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False

    def target(self, ref_id: str) -> Json:
        """The Grafana target object for this query."""
        return {
            "datasource": DATASOURCE,
            "editorMode": "code",
            "expr": self.expr,
            "format": "table" if self.table else "time_series",
            "instant": self.instant,
            "legendFormat": self.legend or "__auto",
            "range": not self.instant,
            "refId": ref_id,
        }


@dataclass
class Panel:
    """A panel before layout: its kind, title, queries and kind-specific JSON."""

    kind: str
    title: str
    queries: Sequence[Query]
    width: int = 12
    height: int = 8
    description: str = ""
    unit: str = "short"
    defaults: Json = field(default_factory=dict)
    overrides: list[Json] = field(default_factory=list)
    options: Json = field(default_factory=dict)
    transformations: list[Json] = field(default_factory=list)


@dataclass
class Row:
    """A non-collapsed row header; its panels follow it in the flat panel list."""

    title: str


def timeseries(
    title: str,
    *queries: Query,
    unit: str = "short",
    description: str = "",
    stack: bool = False,
    width: int = 12,
    minimum: float | None = 0,
) -> Panel:
    """A line graph; ``stack`` for parts of a whole (alerts by severity, outcomes by sink)."""
    custom: Json = {
        "drawStyle": "line",
        "lineWidth": 1,
        "fillOpacity": 20 if stack else 0,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
    }
    defaults: Json = {"custom": custom}
    if minimum is not None:
        defaults["min"] = minimum
    return Panel(
        "timeseries",
        title,
        queries,
        width=width,
        description=description,
        unit=unit,
        defaults=defaults,
        options={
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    )


def stat(
    title: str,
    query: Query,
    unit: str = "short",
    description: str = "",
    thresholds: Json | None = None,
) -> Panel:
    """A single big number with its recent trend."""
    return Panel(
        "stat",
        title,
        [query],
        width=6,
        height=4,
        description=description,
        unit=unit,
        defaults={
            "thresholds": thresholds
            or {"mode": "absolute", "steps": [{"color": "green", "value": None}]}
        },
        options={
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": "auto",
        },
    )


def _layout(items: Sequence[Panel | Row]) -> list[Json]:
    """Place panels left to right in a 24-column grid, wrapping rows; number them from 1."""
    panels: list[Json] = []
    x = y = row_height = 0
    for number, item in enumerate(items, start=1):
        if isinstance(item, Row):
            y += row_height
            panels.append(
                {
                    "collapsed": False,
                    "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                    "id": number,
                    "panels": [],
                    "title": item.title,
                    "type": "row",
                }
            )
            x, y, row_height = 0, y + 1, 0
            continue
        if x + item.width > 24:
            x, y, row_height = 0, y + row_height, 0
        panels.append(
            _panel_json(item, number, {"h": item.height, "w": item.width, "x": x, "y": y})
        )
        x += item.width
        row_height = max(row_height, item.height)
    return panels


def _panel_json(panel: Panel, number: int, grid: Json) -> Json:
    refs = "ABCDEFGHIJ"
    return {
        "datasource": DATASOURCE,
        "description": panel.description,
        "fieldConfig": {
            "defaults": {"unit": panel.unit, **panel.defaults},
            "overrides": panel.overrides,
        },
        "gridPos": grid,
        "id": number,
        "options": panel.options,
        "targets": [q.target(refs[i]) for i, q in enumerate(panel.queries)],
        "title": panel.title,
        "transformations": panel.transformations,
        "type": panel.kind,
    }


def _dashboard(
    uid: str,
    title: str,
    description: str,
    items: Sequence[Panel | Row],
    variables: Sequence[Json] = (),
    time_from: str = "now-6h",
) -> Json:
    other = PIPELINE_UID if uid == PORTFOLIO_UID else PORTFOLIO_UID
    return {
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "description": description,
        "editable": False,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [
            {
                "icon": "dashboard",
                "title": "Portfolio" if other == PORTFOLIO_UID else "Pipeline",
                "type": "link",
                "url": f"/d/{other}",
            }
        ],
        "panels": _layout(items),
        "refresh": "30s",
        "schemaVersion": 39,
        "tags": ["vendorwatch"],
        "templating": {"list": list(variables)},
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
    }


def vendor_variable() -> Json:
    """``$vendor``: every vendor with a score, multi-select, "All" by default."""
    return {
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "datasource": DATASOURCE,
        "definition": VENDOR_VARIABLE_QUERY,
        "hide": 0,
        "includeAll": True,
        "label": "Vendor",
        "multi": True,
        "name": "vendor",
        "options": [],
        "query": VENDOR_VARIABLE_QUERY,
        "refresh": 2,
        "regex": "",
        "skipUrlSync": False,
        "sort": 1,
        "type": "query",
    }


def portfolio() -> Json:
    """What the security team watches: which vendors are risky, how that changes, what fires."""
    score = "vendor:vendorwatch_vendor_risk_score:max"
    severity = "vendor:vendorwatch_vendor_severity:max"
    at_stake = "vendor:vendorwatch_vendor_data_at_stake_ratio:max"
    vendors_table = Panel(
        "table",
        "Vendors by risk",
        # `max by (vendor)` drops __name__, which differs per query and would stop the merge.
        [
            Query(f"max by (vendor) ({score})", instant=True, table=True),
            Query(f"max by (vendor) ({severity})", instant=True, table=True),
            Query(f"max by (vendor) ({at_stake})", instant=True, table=True),
        ],
        width=14,
        height=10,
        description="Every scored vendor, riskiest first. Data at stake is what we share with "
        "the vendor, weighted by classification and volume.",
        options={
            "cellHeight": "sm",
            "showHeader": True,
            "sortBy": [{"desc": True, "displayName": "Risk score"}],
        },
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True, "__name__": True},
                    "indexByName": {
                        "vendor": 0,
                        "Value #A": 1,
                        "Value #B": 2,
                        "Value #C": 3,
                    },
                    "renameByName": {
                        "vendor": "Vendor",
                        "Value #A": "Risk score",
                        "Value #B": "Severity",
                        "Value #C": "Data at stake",
                    },
                },
            },
        ],
        overrides=[
            {
                "matcher": {"id": "byName", "options": "Risk score"},
                "properties": [
                    {"id": "min", "value": 0},
                    {"id": "max", "value": 100},
                    {"id": "decimals", "value": 1},
                    {"id": "thresholds", "value": RISK_THRESHOLDS},
                    {"id": "custom.cellOptions", "value": {"type": "gauge", "mode": "basic"}},
                ],
            },
            {
                "matcher": {"id": "byName", "options": "Severity"},
                "properties": [
                    {"id": "mappings", "value": SEVERITY_MAPPINGS},
                    {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                ],
            },
            {
                "matcher": {"id": "byName", "options": "Data at stake"},
                "properties": [
                    {"id": "unit", "value": "percentunit"},
                    {"id": "decimals", "value": 0},
                ],
            },
        ],
    )
    top_bar = Panel(
        "bargauge",
        "Top 20 vendors by risk score",
        [Query(f"sort_desc(topk(20, {score}))", legend="{{vendor}}", instant=True)],
        width=10,
        height=10,
        defaults={"min": 0, "max": 100, "thresholds": RISK_THRESHOLDS},
        options={
            "displayMode": "gradient",
            "orientation": "horizontal",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "showUnfilled": True,
            "valueMode": "color",
        },
    )
    distribution = Panel(
        "piechart",
        "Severity distribution",
        [Query("severity:vendorwatch_vendors:count", legend="{{severity}}", instant=True)],
        width=8,
        description="How many vendors sit in each severity band of the policy.",
        overrides=[
            {
                "matcher": {"id": "byName", "options": name},
                "properties": [{"id": "color", "value": {"fixedColor": color, "mode": "fixed"}}],
            }
            for name, color in SEVERITY_COLORS.items()
        ],
        options={
            "displayLabels": ["value"],
            "legend": {
                "displayMode": "table",
                "placement": "right",
                "showLegend": True,
                "values": ["value"],
            },
            "pieType": "donut",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "tooltip": {"mode": "single", "sort": "none"},
        },
    )
    over_time = timeseries(
        "Risk score over time: $vendor",
        Query(f'{score}{{vendor=~"$vendor"}}', legend="{{vendor}}"),
        width=16,
        description="Scores use event time; a jump here is a new event, its decay is the "
        "policy's half-life.",
    )
    over_time.defaults.update({"max": 100, "thresholds": RISK_THRESHOLDS})
    over_time.defaults["custom"]["thresholdsStyle"] = {"mode": "dashed"}
    data_at_stake = timeseries(
        "Data at stake: $vendor",
        Query(f'{at_stake}{{vendor=~"$vendor"}}', legend="{{vendor}}"),
        unit="percentunit",
        width=12,
    )
    data_at_stake.defaults["max"] = 1
    alerts = timeseries(
        "Active vendor alerts by severity",
        Query(
            "sum by (severity) (severity_rule:vendorwatch_alerts_active:sum)",
            legend="{{severity}}",
        ),
        stack=True,
        width=12,
        description="Alerts firing (not yet resolved), stacked by severity.",
    )
    alerts.overrides = distribution.overrides
    alerts_by_rule = timeseries(
        "Active vendor alerts by rule",
        Query(
            "sum by (rule) (severity_rule:vendorwatch_alerts_active:sum)",
            legend="{{rule}}",
        ),
        stack=True,
        width=12,
    )
    severity_4 = f"count({severity} == 4) or vector(0)"
    items: list[Panel | Row] = [
        stat("Vendors monitored", Query(f"count({score}) or vector(0)")),
        stat(
            "Critical vendors",
            Query(severity_4),
            thresholds={
                "mode": "absolute",
                "steps": [{"color": "green", "value": None}, {"color": "red", "value": 1}],
            },
        ),
        stat("Highest risk score", Query(f"max({score})"), thresholds=RISK_THRESHOLDS),
        stat(
            "Vendor alerts firing",
            Query("sum(severity_rule:vendorwatch_alerts_active:sum) or vector(0)"),
            thresholds={
                "mode": "absolute",
                "steps": [{"color": "green", "value": None}, {"color": "orange", "value": 1}],
            },
        ),
        vendors_table,
        top_bar,
        distribution,
        over_time,
        data_at_stake,
        alerts,
        alerts_by_rule,
    ]
    return _dashboard(
        PORTFOLIO_UID,
        "vendorwatch: vendor risk portfolio",
        "Risk scores of the vendors we share data with, their severity and the alerts they raise.",
        items,
        variables=[vendor_variable()],
        time_from="now-7d",
    )


def pipeline() -> Json:
    """What the operator watches: is every event scored and every alert delivered, and how fast."""
    latency_unit = "s"
    items: list[Panel | Row] = [
        stat(
            "Workers up",
            Query('count(up{job="vendorwatch-worker"} == 1) or vector(0)'),
            thresholds={
                "mode": "absolute",
                "steps": [{"color": "red", "value": None}, {"color": "green", "value": 1}],
            },
        ),
        stat(
            "Events consumed per second",
            Query("sum(topic:vendorwatch_events_consumed:rate5m) or vector(0)"),
            unit="ops",
        ),
        stat(
            "Total consumer lag",
            Query("sum(topic:vendorwatch_consumer_lag_messages:sum) or vector(0)"),
            thresholds={
                "mode": "absolute",
                "steps": [{"color": "green", "value": None}, {"color": "orange", "value": 1000}],
            },
        ),
        stat(
            "Dead-lettered in the last hour",
            Query("sum(increase(vendorwatch_dlq_messages_total[1h])) or vector(0)"),
            thresholds={
                "mode": "absolute",
                "steps": [{"color": "green", "value": None}, {"color": "orange", "value": 1}],
            },
        ),
        Row("Throughput"),
        timeseries(
            "Messages consumed by topic",
            Query("topic:vendorwatch_events_consumed:rate5m", legend="{{topic}}"),
            unit="ops",
        ),
        timeseries(
            "Events accepted by type, scores published",
            Query("type:vendorwatch_events_accepted:rate5m", legend="{{type}}"),
            Query("sum(job:vendorwatch_scores_published:rate5m)", legend="scores published"),
            unit="ops",
        ),
        timeseries(
            "Consumer lag by partition",
            Query(
                "topic_partition:vendorwatch_consumer_lag_messages:max",
                legend="{{topic}} [{{partition}}]",
            ),
            description="Messages waiting per partition (high watermark minus committed offset).",
        ),
        timeseries(
            "Seconds since last event and last commit",
            Query(
                "topic_partition:vendorwatch_seconds_since_last_event:min",
                legend="event {{topic}} [{{partition}}]",
            ),
            Query(
                "topic_partition:vendorwatch_seconds_since_last_commit:min",
                legend="commit {{topic}} [{{partition}}]",
            ),
            unit=latency_unit,
            description="A commit age that grows while the partition has lag is a stuck "
            "consumer (alert VendorwatchConsumerStuck).",
        ),
        Row("Rejects and dead letters"),
        timeseries(
            "Rejected input by reason",
            Query("reason:vendorwatch_events_rejected:rate5m", legend="{{reason}}"),
            unit="ops",
            stack=True,
        ),
        timeseries(
            "Dead-lettered messages by DLQ",
            Query("topic:vendorwatch_dlq_messages:rate5m", legend="{{topic}}"),
            unit="ops",
            stack=True,
        ),
        Row("Latency"),
        timeseries(
            "Event to score published",
            Query("job:vendorwatch_score_publish_latency_seconds:p50_5m", legend="p50"),
            Query("job:vendorwatch_score_publish_latency_seconds:p99_5m", legend="p99"),
            unit=latency_unit,
            description="From the event's Kafka timestamp to its score on the scores topic.",
        ),
        timeseries(
            "Table recovery and rebalances",
            Query(
                "max by (instance) (vendorwatch_recovery_duration_seconds)",
                legend="recovery {{instance}}",
            ),
            Query(
                "sum(increase(vendorwatch_rebalances_total[1h]))",
                legend="rebalances in the last hour",
            ),
            description="Recovery: how long the last changelog replay took on each worker.",
        ),
        Row("Delivery"),
        timeseries(
            "Notifications by sink and outcome",
            Query("sink_outcome:vendorwatch_notifications:rate5m", legend="{{sink}} {{outcome}}"),
            unit="ops",
            stack=True,
        ),
        timeseries(
            "Delivery latency",
            Query("sink:vendorwatch_delivery_latency_seconds:p50_5m", legend="p50 {{sink}}"),
            Query("sink:vendorwatch_delivery_latency_seconds:p99_5m", legend="p99 {{sink}}"),
            unit=latency_unit,
            description="First attempt to successful delivery, retries and waits included.",
        ),
        timeseries(
            "Retries and rate limiting",
            Query("sink:vendorwatch_delivery_retries:rate5m", legend="retries {{sink}}"),
            Query("sink:vendorwatch_delivery_rate_limited:rate5m", legend="429s {{sink}}"),
            unit="ops",
        ),
        Panel(
            "table",
            "Worker builds",
            [Query('vendorwatch_build_info{job="vendorwatch-worker"}', instant=True, table=True)],
            description="Version and scoring-policy hash per worker: during a rollout or a "
            "policy change they can differ.",
            options={"cellHeight": "sm", "showHeader": True},
            transformations=[
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True, "Value": True, "__name__": True},
                        "renameByName": {
                            "instance": "Worker",
                            "version": "Version",
                            "policy_version": "Policy version",
                        },
                    },
                }
            ],
        ),
    ]
    return _dashboard(
        PIPELINE_UID,
        "vendorwatch: pipeline",
        "Health of the vendorwatch workers: throughput, lag, rejects, latency and delivery.",
        items,
    )


def dashboards() -> dict[str, Json]:
    """Every dashboard by file name (without .json)."""
    return {"portfolio": portfolio(), "pipeline": pipeline()}


def render(dashboard: Json) -> str:
    """The exact text committed for a dashboard: stable key order, trailing newline."""
    return json.dumps(dashboard, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _walk_panels(panels: Sequence[Json]) -> Iterator[Json]:
    for panel in panels:
        yield panel
        yield from _walk_panels(panel.get("panels", []))


def panel_queries() -> list[tuple[str, str, str]]:
    """Every (dashboard, panel title, PromQL expr) the dashboards run, ``$vendor`` left in.

    Substitute template variables with ``substitute()`` before sending a query to Prometheus.
    """
    found: list[tuple[str, str, str]] = []
    for name, dashboard in dashboards().items():
        for panel in _walk_panels(dashboard["panels"]):
            for target in panel.get("targets", []):
                found.append((name, panel["title"], target["expr"]))
    return found


def substitute(expr: str, variables: Mapping[str, str]) -> str:
    """Replace ``$name`` and ``${name}`` by a value, as Grafana does for a single selection."""
    for name in sorted(variables, key=len, reverse=True):
        expr = expr.replace("${" + name + "}", variables[name]).replace("$" + name, variables[name])
    return expr


def write(out_dir: Path = OUT_DIR) -> list[Path]:
    """Write every dashboard's JSON; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, dashboard in dashboards().items():
        path = out_dir / f"{name}.json"
        path.write_text(render(dashboard), encoding="utf-8")
        written.append(path)
    return written


def stale(out_dir: Path = OUT_DIR) -> list[str]:
    """Names of dashboards whose committed JSON differs from what this file generates."""
    return [
        name
        for name, dashboard in dashboards().items()
        if not (out_dir / f"{name}.json").is_file()
        or (out_dir / f"{name}.json").read_text(encoding="utf-8") != render(dashboard)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: write the dashboards, or with ``--check`` report the stale ones and exit 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    if args.check:
        names = stale()
        for name in names:
            print(f"{name}.json is out of date: run python deploy/grafana/generate.py")
        return 1 if names else 0
    for path in write():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
