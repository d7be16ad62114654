"""All settings in one place.

Precedence: built-in defaults < TOML file (``INTERVIEW_CONFIG`` or ``--config``)
< environment variables (``INTERVIEW_<NAME>``; ``REDIS_URL`` is also read
as-is). Every setting is documented in ``docs/configuration.md``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "INTERVIEW_"
NODE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # a node id becomes a part of Redis keys


class ConfigError(ValueError):
    """A setting has a value the server cannot use."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""  # shown in printed links; default http(s)://host:port
    redis_url: str = ""  # empty: start a private embedded redis-server
    redis_prefix: str = "iv:"
    redis_max_connections: int = 64  # per process; requests wait for a free one rather than fail
    data_dir: Path = Path("data")
    recordings_dir: Path = Path("recordings")
    log_level: str = "INFO"
    log_format: str = "json"  # json | text
    tls_cert: str = ""
    tls_key: str = ""
    tls_self_signed: bool = False
    cookie_secure: bool | None = None  # None: Secure exactly when served over TLS
    session_ttl_s: int = 12 * 3600
    unverified_account_days: float = (
        30  # a candidate account without a verified identity is deleted after this (0: never)
    )
    trusted_proxies: tuple[str, ...] = ()
    max_json_bytes: int = 64 * 1024
    max_upload_bytes: int = 200 * 1024 * 1024
    max_photo_bytes: int = 5 * 1024 * 1024
    max_roster_rows: int = 20000
    login_fail_limit_pair: int = 5  # per (account, address) in login_window_s
    login_fail_limit_account: int = 100  # per account from any address in login_account_window_s
    login_fail_limit_address: int = 30  # per address over any accounts in login_window_s
    login_window_s: int = 15 * 60
    login_account_window_s: int = 3600
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 2
    argon2_concurrency: int = 2  # hashes at once (each ~64 MiB and a core); more wait
    argon2_max_waiting: int = 64  # waiting for a hash beyond this: 503 auth_busy
    timezone: str = "Asia/Shanghai"
    default_lang: str = "zh"
    models_dir: Path = Path("models")  # face detector file(s) and DEEPFACE_HOME, filled by fetch-models
    facecheck_model: str = "Dlib"  # deepface model name: Dlib (default, offline), ArcFace, Facenet512, SFace
    facecheck_threshold: float = 0.0  # 0: the calibrated threshold of the model (docs/facecheck.md)
    facecheck_workers: int = 2  # inference processes
    facecheck_max_pending: int = 32  # checks waiting or running before "busy, retry"
    facecheck_max_frames: int = 8  # frames in one check burst
    facecheck_max_frame_bytes: int = 512 * 1024
    facecheck_max_pixels: int = 20_000_000  # larger images are refused before decoding
    facecheck_strikes: int = 3  # failures in a row that lock the candidate and open a review
    facecheck_challenge_ttl_s: int = 120
    facecheck_retention_days: int = 30  # captured frames kept for audit, then deleted
    facecheck_max_frame_side: int = 1920  # a frame's width and height at most this (header, before decoding)
    facecheck_attempts_per_window: int = 10  # challenges, and checks, per candidate in facecheck_attempt_window_s
    facecheck_attempt_window_s: int = 600
    queue_early_entry_s: int = 15 * 60  # how long before the slot a candidate may enter the queue
    queue_grace_s: int = 120  # a disconnected candidate keeps their place this long
    queue_face_pass_valid_s: int = 10 * 60  # a passed face check this recent clears a re-entry
    queue_sweep_s: float = 2.0  # how often presence, grace periods and slot ends are checked
    presence_ttl_s: int = 30  # a socket not refreshed for this long counts as gone (crashed process)
    process_ttl_s: float = 6.0  # a process not heard from for this long is dead: its sockets stop counting
    queue_called_grace_s: int = 60  # a called candidate disconnected this long goes back to the line
    # recorded exams (docs/recorded.md)
    take_reconnect_grace_s: int = 30  # a take's lost connection may come back this long (a new segment)
    recorded_sweep_s: float = 1.0  # how often each process ends recorded sittings past their deadline
    practice_keep_h: float = 24.0  # practice takes (files and records) are deleted this long after they end
    take_identity_frames: int = 6  # frames of a submitted take compared with the roster photo
    take_identity_retry_s: float = 30.0  # a take's identity check that could not run (busy pool, ...) is retried after
    # takes filmed offline and uploaded (docs/recorded.md "Upload takes")
    upload_abandon_s: int = 1800  # an upload without bytes for this long is abandoned (take failed, files deleted)
    upload_stall_s: float = 20.0  # a chunk whose connection sends nothing for this long is closed (bytes kept)
    upload_chunk_max_bytes: int = 16 * 1024 * 1024  # the largest PATCH body (a proxy must let this through)
    upload_processing_max_s: int = 1800  # making an upload playable may take this long, then it fails
    upload_encode_threads: int = 2  # threads of one re-encode; one re-encode at a time per process
    artwork_photo_max_bytes: int = 20 * 1024 * 1024  # an artwork photo's upload, at most (a 48 MP phone photo fits)
    artwork_photo_max_pixels: int = 50_000_000  # larger photos are refused from their header, before decoding
    device_min_battery_pct: int = 20  # lower and not charging: refused at the device check
    device_min_browsers: str = "chrome:80,safari:14,firefox:78,edge:80"
    signal_rate_per_s: float = 10.0  # socket events per connection per second (sustained)
    signal_burst: int = 30  # socket events a connection may send at once
    ice_servers: str = ""  # JSON list of {urls, username?, credential?} for aiortc and browsers
    turn_secret: str = ""  # coturn's static-auth-secret: mint time-limited TURN credentials per participant
    turn_credential_ttl_s: int = 4 * 3600  # how long minted TURN credentials stay valid
    aux_token_ttl_s: int = 6 * 3600  # how long the auxiliary-camera QR code stays valid
    aux_max_devices: int = 3  # aux-camera devices per candidate, exam and admission (and per room)
    room_face_frames: int = 3  # frames decoded from the candidate's video for the room face check
    room_claim_ttl_s: int = 30  # a dead process's rooms (and recordings) are taken over after this
    # watching the interview (docs/facecheck.md "Watching the interview")
    monitor_interval_s: float = 2.0  # the candidate's forwarded video is sampled this often while in a room
    monitor_max_interval_s: float = 6.0  # under load sampling slows down to this at most; beyond: "monitoring degraded"
    monitor_no_face_s: float = 6.0  # no face seen for this long raises "face_missing"
    monitor_mismatch_samples: int = 3  # samples in a row showing another face raise "face_mismatch"
    # contact codes and registration (docs/security.md "Contact codes and registration")
    code_ttl_s: int = 300  # a verification code is valid this long
    code_max_attempts: int = 5  # tries per code, then it is void
    code_resend_s: int = 60  # one code per phone/email per this many seconds
    code_per_destination_day: int = 10  # codes per phone/email per day
    code_per_address_hour: int = 20  # code requests per client address per hour
    code_global_hour: int = 3000  # code requests per hour in total (SMS budget)
    register_per_address_hour: int = 10  # registration attempts per client address per hour
    register_global_hour: int = 3000  # registration attempts per hour in total
    # notifications (server/notify): console prints them (demo, development)
    notify_site_name: str = "在线面试"  # how messages name the service
    sms_backend: str = "console"  # console | http
    sms_http_url: str = ""
    sms_http_auth_header: str = "Authorization"
    sms_http_auth_value: str = ""  # e.g. "Bearer <token>"; empty: no auth header
    sms_http_body: str = '{"to": "{to}", "text": "{text}"}'  # JSON template: {to} {text} {kind} {code}
    sms_http_timeout_s: float = 10.0
    email_backend: str = "console"  # console | smtp
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"  # starttls | tls | none
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = ""  # the From address, e.g. "Admissions <noreply@school.edu.cn>"
    smtp_timeout_s: float = 10.0
    # several nodes (docs/nodes.md)
    node_id: str = ""  # this node's stable name; empty: <hostname>-<port>
    node_media_address: str = ""  # the IP address browsers send this node's media to; empty: every local address
    node_internal_url: str = ""  # how the other nodes reach this node's HTTP port; empty: http(s)://host:port
    node_secret: str = ""  # HMAC key of relay messages and internal requests; empty: one made once in Redis
    node_drain_s: float = 600.0  # on SIGTERM, how long the interviews in progress may go on before the node exits
    node_max_rooms: int = 0  # media rooms this node takes at most (0: no limit)
    recordings_shared: bool = False  # recordings_dir is one folder shared by every node (NFS ...)

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert or self.tls_self_signed)

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        scheme = "https" if self.tls else "http"
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"{scheme}://{host}:{self.port}"

    @property
    def node_name(self) -> str:
        """``node_id``, or ``<hostname>-<port>`` (stable across restarts of the same unit)."""
        return self.node_id or f"{socket.gethostname()}-{self.port}"

    @property
    def node_url(self) -> str:
        """``node_internal_url``, or this node's own address (loopback when it listens everywhere)."""
        if self.node_internal_url:
            return self.node_internal_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def photos_dir(self) -> Path:
        return self.data_dir / "photos"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _coerce(name: str, kind: Any, value: Any) -> Any:
    text = value if isinstance(value, str) else None
    try:
        if kind in ("float", float):
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind in ("int", int):
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if kind in ("bool", bool, "bool | None"):
            if isinstance(value, bool):
                return value
            if text is not None and text.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if text is not None and text.strip().lower() in ("0", "false", "no", "off"):
                return False
            if kind == "bool | None" and text is not None and text.strip().lower() in ("", "auto"):
                return None
            raise ValueError
        if kind in ("Path", Path):
            return Path(str(value))
        if kind in ("tuple[str, ...]",):
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(str(i).strip() for i in items if str(i).strip())
        if not isinstance(value, str):
            raise ValueError
        return value
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name!r}: cannot use value {value!r} (expected {kind})") from None


def load_settings(
    config_file: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build settings from defaults, an optional TOML file, the environment and overrides."""
    env = os.environ if env is None else env
    known = {f.name: f.type for f in fields(Settings)}
    values: dict[str, Any] = {}

    path = config_file or env.get(ENV_PREFIX + "CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                doc = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        doc = doc.get("server", doc)
        for key, value in doc.items():
            if key not in known:
                raise ConfigError(f"config file {path}: unknown setting {key!r}")
            values[key] = _coerce(key, known[key], value)

    if env.get("REDIS_URL"):
        values["redis_url"] = env["REDIS_URL"]
    for name, kind in known.items():
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = _coerce(name, kind, raw)

    for name, value in overrides.items():
        if name not in known:
            raise ConfigError(f"unknown setting {name!r}")
        if value is not None:
            values[name] = _coerce(name, known[name], value) if isinstance(value, str) else value

    settings = Settings(**values)
    if settings.log_format not in ("json", "text"):
        raise ConfigError("setting 'log_format' must be 'json' or 'text'")
    if settings.default_lang not in ("zh", "en"):
        raise ConfigError("setting 'default_lang' must be 'zh' or 'en'")
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise ConfigError("settings 'tls_cert' and 'tls_key' must be given together")
    from .notify.backends import check as check_notify

    try:
        check_notify(settings)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if not 1 <= settings.take_identity_frames <= 30:
        raise ConfigError("setting 'take_identity_frames' must be 1 to 30")
    if settings.take_identity_retry_s <= 0:
        raise ConfigError("setting 'take_identity_retry_s' must be more than 0")
    if settings.monitor_interval_s < 0.5 or settings.monitor_no_face_s < 0:
        raise ConfigError("setting 'monitor_interval_s' must be at least 0.5 and 'monitor_no_face_s' not negative")
    if settings.monitor_max_interval_s < settings.monitor_interval_s:
        raise ConfigError("setting 'monitor_max_interval_s' must be at least 'monitor_interval_s'")
    if not 1 <= settings.monitor_mismatch_samples <= 100:
        raise ConfigError("setting 'monitor_mismatch_samples' must be 1 to 100")
    if settings.room_claim_ttl_s < 3:
        raise ConfigError("setting 'room_claim_ttl_s' must be at least 3 seconds")
    if settings.node_drain_s < 0 or settings.node_max_rooms < 0:
        raise ConfigError("settings 'node_drain_s' and 'node_max_rooms' must not be negative")
    if settings.node_id and not NODE_ID.match(settings.node_id):
        raise ConfigError("setting 'node_id' must be 1-64 letters, digits, '.', '_' or '-'")
    if settings.node_media_address:
        try:
            ipaddress.ip_address(settings.node_media_address)
        except ValueError:
            raise ConfigError("setting 'node_media_address' must be an IP address") from None
    if settings.ice_servers.strip():
        from .rooms.ice import parse_ice_servers  # imports aiortc: only when there are servers

        try:
            parse_ice_servers(settings.ice_servers, settings.turn_secret)
        except ValueError as exc:
            raise ConfigError(f"setting 'ice_servers': {exc}") from None
    return settings


def describe() -> list[tuple[str, str, Any]]:
    """(setting, environment variable, default) for every setting, for docs and --help."""
    out = []
    for f in fields(Settings):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[operator]
        out.append((f.name, ENV_PREFIX + f.name.upper(), default))
    return out
