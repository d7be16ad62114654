"""The device check a candidate's phone reports before entering the queue, and the rules it must meet.

The browser reports what it can see (permissions, battery, browser); the server decides, so that
the thresholds are the school's configuration and the refusal is the same on every phone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UserError

PERMISSIONS = ("granted", "denied", "prompt", "unavailable")


@dataclass(frozen=True)
class DevicePolicy:
    min_battery_pct: int = 20  # below this and not charging: refused
    min_browsers: tuple[tuple[str, int], ...] = ()  # (name, major version)

    @classmethod
    def parse(cls, min_battery_pct: int, min_browsers: str) -> DevicePolicy:
        """``min_browsers``: ``chrome:80,safari:14``; unknown browsers are not refused."""
        pairs = []
        for item in filter(None, (p.strip() for p in min_browsers.split(","))):
            name, _, version = item.partition(":")
            pairs.append((name.strip().lower(), int(version)))
        return cls(min_battery_pct, tuple(pairs))

    def problems(self, report: dict) -> list[dict]:
        """Every rule the report breaks, as ``{"code", **params}``; empty when the device is fit."""
        found: list[dict] = []
        if report.get("in_app"):
            found.append({"code": "device_in_app_browser", "app": str(report["in_app"])[:40]})
        if report.get("camera") != "granted":
            found.append({"code": "device_camera_denied"})
        if report.get("microphone") != "granted":
            found.append({"code": "device_microphone_denied"})
        level = report.get("battery_level")
        if level is not None and level * 100 < self.min_battery_pct and report.get("charging") is False:
            found.append({"code": "device_battery_low", "percent": round(level * 100), "min": self.min_battery_pct})
        browser = str(report.get("browser") or "").lower()
        major = _major(str(report.get("browser_version") or ""))
        for name, least in self.min_browsers:
            if browser == name and major is not None and major < least:
                found.append({"code": "device_browser_old", "browser": report.get("browser"), "min": least})
        return found

    def check(self, report: dict) -> None:
        found = self.problems(report)
        if found:
            raise UserError("device_check_failed", field="device", problems=found)


def _major(version: str) -> int | None:
    match = re.match(r"\s*(\d+)", version)
    return int(match.group(1)) if match else None
