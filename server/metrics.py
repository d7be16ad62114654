"""Prometheus metrics of one app (own registry, so several apps can live in one process)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.product: Any = (
            None  # the product figures' collector (server/http/metrics_product.py), made at first scrape
        )
        r = self.registry
        self.requests = Counter("iv_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=r)
        self.request_seconds = Histogram(
            "iv_http_request_seconds", "HTTP request duration", ["method", "route"], registry=r
        )
        self.logins = Counter("iv_logins_total", "Login attempts by outcome", ["outcome"], registry=r)
        self.sessions_created = Counter("iv_sessions_created_total", "Sessions created", registry=r)
        self.sessions_revoked = Counter("iv_sessions_revoked_total", "Sessions revoked", registry=r)
        self.redis_up = Gauge("iv_redis_up", "1 when the last Redis probe succeeded", registry=r)
        self.redis_latency = Histogram(
            "iv_redis_latency_seconds",
            "Redis PING round trip",
            registry=r,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
        )
        self.bookings = Counter("iv_bookings_total", "Booking attempts by result", ["result"], registry=r)
        # the server process's CPU, memory and descriptors (process_*): a node's media loop runs on one
        # core, and every socket and peer connection is a descriptor (docs/deployment.md "What to watch")
        ProcessCollector(registry=r)
        # several nodes (docs/nodes.md): whether this node drains, the media events it relayed to other nodes
        # (its rooms and participants: iv_media_rooms_open, iv_media_participants in http/metrics_product.py)
        self.node_draining = Gauge("iv_node_draining", "1 while this node is draining", registry=r)
        self.relay_requests = Counter(
            "iv_relay_requests_total", "Media events relayed to another node", ["op", "outcome"], registry=r
        )
        self.relay_seconds = Histogram(
            "iv_relay_seconds",
            "Round trip of a relayed media event",
            ["op"],
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )

    def relayed(self, op: str, outcome: str, seconds: float) -> None:
        self.relay_requests.labels(op, outcome).inc()
        self.relay_seconds.labels(op).observe(seconds)
