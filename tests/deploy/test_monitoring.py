"""deploy/grafana's dashboard and deploy/prometheus's alerts use only metrics the server really
exports (read from a running node's /metrics, as Prometheus scrapes it), the dashboard shows every
family the server exports, and Prometheus scrapes the same nodes nginx sends requests to."""

from __future__ import annotations

import json
import re
import urllib.request

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy import kit

DASHBOARD = kit.DEPLOY / "grafana" / "interview-dashboard.json"
ALERTS = kit.DEPLOY / "prometheus" / "alerts.yml"
PROMETHEUS = kit.DEPLOY / "prometheus" / "prometheus.yml"
SERVER_METRIC = re.compile(r"\b((?:iv|process)_[a-z0-9_]+)\b")
# metrics of other programs that the optional alerts use, and where they come from
OTHERS = {
    "up": "Prometheus itself (1 when a target answered its scrape)",
    "redis_memory_used_bytes": "prometheus-redis-exporter",
    "redis_memory_max_bytes": "prometheus-redis-exporter",
    "redis_aof_last_write_status": "prometheus-redis-exporter",
    "redis_rdb_last_bgsave_status": "prometheus-redis-exporter",
    "probe_success": "prometheus-blackbox-exporter",
}
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
}


def scrape(node) -> tuple[set[str], set[str]]:
    """(every sample name the node can send, its families), from its /metrics text."""
    with urllib.request.urlopen(f"{node.url}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    found = list(text_string_to_metric_families(text))
    families = {f.name for f in found}
    # a counter's creation time comes as a family of its own (<name>_created): part of its counter
    families = {name for name in families if not (name.endswith("_created") and name[: -len("_created")] in families)}
    names = {f.name + suffix for f in found if f.name in families for suffix in SUFFIXES[f.type]}
    return names, families


def not_exported(used: set[str], names: set[str]) -> set[str]:
    """The names used that the server does not export."""
    return used - names


def expressions(value) -> list[str]:
    """Every PromQL expression in a dashboard (its panels' targets), however deeply nested."""
    if isinstance(value, dict):
        found = [value["expr"]] if isinstance(value.get("expr"), str) else []
        return found + [e for v in value.values() for e in expressions(v)]
    if isinstance(value, list):
        return [e for v in value for e in expressions(v)]
    return []


def alert_rules() -> dict[str, list[dict]]:
    return {group["name"]: group["rules"] for group in yaml.safe_load(ALERTS.read_text())["groups"]}


def test_the_dashboard_shows_what_the_server_exports(node):
    names, families = scrape(node)
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = expressions(dashboard["panels"])
    assert len(exprs) > 30
    used = {name for expr in exprs for name in SERVER_METRIC.findall(expr)}
    assert not_exported(used, names) == set(), "the dashboard uses metrics the server does not export"
    others = {n for expr in exprs for n in re.findall(r"\b([a-z_]+)\{", expr)} - used
    assert others <= {"up"}, others
    # every family the server exports is on the dashboard (a new one needs a panel)
    shown = {family for family in families if any(name.startswith(family) for name in used)}
    assert shown == families, f"not on the dashboard: {sorted(families - shown)}"
    # importable: a Prometheus data source chosen at import, every panel on it, ids unique
    assert dashboard["__inputs"][0]["name"] == "DS_PROMETHEUS"
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert all(p["datasource"]["uid"] == "${DS_PROMETHEUS}" for p in panels)
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    assert all(p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in dashboard["panels"])


def test_alerts_name_real_metrics(node):
    names, _ = scrape(node)
    rules = alert_rules()
    for rule in rules["interview-server"]:
        used = set(SERVER_METRIC.findall(rule["expr"]))
        assert not_exported(used, names) == set(), rule["alert"]
        assert used or re.match(r"up\{", rule["expr"]), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    for rule in rules["interview-infrastructure"]:
        words = set(re.findall(r"[a-z_][a-z0-9_]*", re.sub(r"\{[^}]*\}", "", rule["expr"]))) - {"or", "and"}
        assert words and words <= set(OTHERS), (rule["alert"], words)
    assert "up" in rules["interview-server"][0]["expr"]


def test_prometheus_scrapes_the_nodes_nginx_uses():
    config = yaml.safe_load(PROMETHEUS.read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "interview"]
    targets = [t for group in job["static_configs"] for t in group["targets"]]
    assert job["metrics_path"] == "/metrics" and sorted(targets) == sorted(kit.NODES)
    upstream = (kit.DEPLOY / "nginx" / "interview.conf").read_text().split("upstream interview_http {")[1].split("}")[0]
    assert sorted(re.findall(r"server (\S+) ", upstream)) == sorted(kit.NODES)
    assert config["rule_files"] == ["/etc/prometheus/interview-alerts.yml"]
