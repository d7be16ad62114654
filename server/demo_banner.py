"""What ``interview-server demo`` prints: the steps of one interview in order, the logins, and for
phones on the LAN every URL and a QR code."""

from __future__ import annotations

import io
from pathlib import Path

from .config import Settings
from .demo import CANDIDATES, demo_id_number, local_time
from .tls import is_loopback, lan_addresses


def _qr(url: str) -> list[str]:
    """The URL as a QR code drawn with block characters (two modules a line), for a phone's camera."""
    import segno

    out = io.StringIO()
    segno.make(url, error="m").terminal(out=out, compact=True, border=2)
    return ["   " + line for line in out.getvalue().splitlines()]


def _command() -> str:
    """How to call the command from here: the project's virtualenv when run from the checkout."""
    venv = Path(".venv/bin/interview-server")
    return str(venv) if venv.exists() else "interview-server"


def banner(settings: Settings, demo: dict, addresses: list[str] | None = None) -> str:
    """What ``demo`` prints: the steps of one interview in order, with the slot's times, the logins and,
    when phones on the LAN can come (HTTPS on a non-loopback host), every LAN URL and a QR code.
    ``addresses``: the machine's LAN IPv4 addresses (found from its interfaces when None)."""
    logins, tz = demo["logins"], settings.timezone
    local = settings.base_url
    lan = settings.tls and not settings.public_url and not is_loopback(settings.host)
    if lan and addresses is None:
        addresses = lan_addresses(settings.host)
    addresses = addresses if lan else []
    base = f"https://{addresses[0]}:{settings.port}" if addresses else local
    begins, ends = local_time(demo["slot"]["starts_at"], tz), local_time(demo["slot"]["ends_at"], tz)
    bookable = local_time(demo["slot"]["ends_at"] - demo.get("late_booking_min", 0) * 60, tz)
    zone = "北京时间" if tz in ("Asia/Shanghai", "Asia/Chongqing", "PRC") else tz
    span = f"{begins:%H:%M} – {ends:%H:%M} {zone} ({begins:%Y-%m-%d})"
    name, _, seq, _ = CANDIDATES[0]
    cand, ex, ex2, pr, ad = (logins[k] for k in ("candidate", "examiner", "examiner2", "proctor", "admin"))
    lines = [
        "",
        "=" * 76,
        f" Interview server is running: {base}   (demo exam {demo['exam_id']})",
        "=" * 76,
        f" The slot running now: {demo['room']}, {span};",
        f" it can still be booked until {bookable:%H:%M}. Later slots start every hour.",
        "",
        " 1. Candidate, on a phone (or a browser window 390 px wide):",
        f"    {base}/login    login {cand['phone']}  password {cand['password']}",
        f"    a. 身份认证 (verify identity) as: {name} / {demo_id_number(seq)}",
        "    b. 确认考试 (confirm the exam), read 考前须知 (the notice), sign 诚信承诺 (the pledge)",
        f"    c. book 声乐 {begins:%H:%M} – {ends:%H:%M}, the slot running now",
        "    d. press 开始面试, do the 设备检测 (device check) and the 人脸比对 (face check)",
        "    The demo ID photo is a public-domain portrait; to pass the face check as yourself, run",
        f"    `{_command()} set-photo YOUR_PHOTO.jpg"
        + ("" if settings.data_dir == Path("data") else f" --data-dir {settings.data_dir}")
        + "` while this runs.",
        f" 2. Examiner:  {base}/examiner  login {ex['username']}  password {ex['password']}",
        f"    open {demo['room']}, press 叫号 (call next) once the candidate waits; the interview starts",
        f"    (the room's second examiner: login {ex2['username']}  password {ex2['password']})",
        (
            f" 3. Proctor:   {base}/proctor   login {pr['username']}  password {pr['password']}"
            "   (every queue live, face reviews)"
        ),
        (
            f" 4. Admin:     {base}/admin     login {ad['username']}  password {ad['password']}"
            "   (exams, roster, recordings)"
        ),
        f" A new account ({base}/register) gets its code by SMS: here the code is printed in this terminal.",
    ]
    recorded = demo.get("recorded")
    if recorded:
        opens, closes = local_time(recorded["window_opens"], tz), local_time(recorded["window_closes"], tz)
        url = f"{base}/candidate/exams/{demo['exam_id']}/recorded/{recorded['subject_id']}"
        lines += [
            "",
            f" 5. Recorded exam (录制考试) {recorded['name']}: open now, {opens:%m-%d %H:%M} – {closes:%m-%d %H:%M} {zone};",
            f"    {recorded['takes_allowed']} takes of at most {recorded['take_max_s'] // 60} min,"
            f" {recorded['time_limit_min']} min from 已知晓并同意. As the candidate, after 1a-1b:",
            "    on 我的考试 under 录制考试 press 去考试 (or 去模拟考 / 练习), or open",
            f"    {url}?mode=formal",
            "    Admin: 录制考试 tab of the demo exam (sittings, exam codes, playback, CSV).",
        ]
    if lan and addresses:
        lines += [
            "",
            f" Phones on the same Wi-Fi: scan this for the candidate's page ({base}/login)",
            *_qr(base + "/login"),
            " Every LAN address of this machine:",
        ]
        for address in addresses:
            at = f"https://{address}:{settings.port}"
            lines += [
                f"   {address:<15}  candidate {at}/login      examiner {at}/examiner",
                f"   {'':<15}  proctor   {at}/proctor    admin    {at}/admin",
            ]
        lines += [
            " The phone shows a certificate warning (Chrome: 高级 → 继续前往; Safari: 显示详细信息 → 访问此网站):",
            " that is expected for a demo, whose certificate is self-signed.",
        ]
    elif lan:
        lines += ["", " No LAN address found on this machine: connect it to the Wi-Fi and start the demo again."]
    else:
        lines += ["", " For a phone on the same Wi-Fi (cameras need HTTPS): INTERVIEW_HOST=0.0.0.0 make demo"]
    lines += [
        f" This machine: {local}   Health {local}/healthz",
        f" Metrics {local}/metrics   API {local}/api/openapi.yaml",
        " Stop with Ctrl+C. Data (embedded Redis with AOF, photos, logins) is kept under "
        + str(settings.data_dir.resolve()),
        "=" * 76,
        "",
    ]
    return "\n".join(lines)


def print_demo(settings: Settings, demo: dict, addresses: list[str] | None = None) -> None:
    print(banner(settings, demo, addresses), flush=True)
