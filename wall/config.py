"""config.toml: typed, documented, validated once at start.

Unknown keys are refused; every error names the file, line, key path, the bad
value and what is expected, on one line. Secrets come from the environment
(IOCWALL_ADMIN_PASSWORD, IOCWALL_SESSION_SECRET, IOCWALL_CAMERA_<ID>_PASSWORD,
IOCWALL_SMTP_PASSWORD and the variables ``[notify]`` names for the webhook and SMS).
"""
from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from iocwall.streams.settings import DEFAULTS as D
from iocwall.streams.settings import Ingest, ReplayCameras, ReplaySettings, StreamSettings
from iocwall.streams.urls import UrlError, parse, redact


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _ip_network(value: str) -> str:
    try:
        ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValueError("expected an IP address or CIDR, e.g. 10.0.0.0/8") from None
    return value.strip()


class ServerConfig(_Section):
    host: str = Field("127.0.0.1", description="Address the web server listens on")
    port: int = Field(8080, ge=0, le=65535, description="TCP port of the web server; 0 = any free")
    data_dir: str = Field("data", description="Folder for the database, logs and caches")
    public_url: str = Field("", description="URL users reach the console at; empty = http://host:port")
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the console answers to (the Host header), besides public_url's "
                    "host and the listen address; empty = localhost and 127.0.0.1; '*' = any")
    max_body_bytes: int = Field(256 * 1024, ge=1024, description="Largest request body; larger "
                                "is refused with 413 while it is being read")

    tls_cert: str = Field("", description="PEM certificate (chain) to serve HTTPS with; "
                          "absolute or relative to data_dir; empty = plain HTTP (e.g. behind "
                          "a TLS proxy)")
    tls_key: str = Field("", description="PEM private key of tls_cert")

    @property
    def https(self) -> bool:
        """Users reach us over https (Secure cookies, HSTS): we serve TLS ourselves, or
        public_url says a TLS proxy is in front."""
        return bool(self.tls_cert) or self.public_url.strip().lower().startswith("https://")
    trusted_proxies: list[Annotated[str, AfterValidator(_ip_network)]] = Field(
        default_factory=list,
        description="Reverse proxies (addresses or CIDRs) whose X-Forwarded-For is believed; "
                    "from any other peer the header is ignored")


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level")
    file: str = Field("logs/iocwall.log",
                      description="Log file, relative to data_dir; empty = none")
    json_lines: bool = Field(True, description="Write the log file as one JSON object a line")
    max_bytes: int = Field(10 * 1024 * 1024, ge=1024,
                           description="Rotate the log file at this size")
    backup_count: int = Field(5, ge=0, description="Rotated log files kept (iocwall.log.1 ...)")


def _store_url(value: str) -> str:
    value = value.strip()
    if value and not value.lower().startswith(("postgresql://", "postgres://")):
        raise ValueError("expected empty (SQLite in data_dir) or a PostgreSQL URL, "
                         "e.g. postgresql://iocwall@db.example:5432/iocwall")
    return value


class StorageConfig(_Section):
    path: str = Field("iocwall.sqlite3", description="SQLite file, relative to data_dir")
    url: Annotated[str, AfterValidator(_store_url)] = Field(
        "", description="PostgreSQL URL (postgresql://user@host:5432/db) for a store shared "
                        "by several servers; empty = SQLite (path). The password: "
                        "IOCWALL_STORE_PASSWORD, or libpq's PGPASSWORD / ~/.pgpass")


class BusConfig(_Section):
    backend: Literal["memory", "redis"] = Field("memory", description="Event bus implementation")
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL when backend = redis")
    prefix: str = Field("iocwall", description="Channel and key prefix on Redis")


class AuthConfig(_Section):
    admin_user: str = Field("admin", min_length=1,
                            description="First admin, created at first start")
    admin_password: str = Field("", description="Prefer IOCWALL_ADMIN_PASSWORD; empty = generate")
    session_secret: str = Field("", description="Prefer IOCWALL_SESSION_SECRET; empty = generate")
    session_max_age_s: int = Field(12 * 3600, ge=60, description="Session cookie lifetime")
    cookie_secure: bool = Field(False, description="Send the cookie over HTTPS only")
    login_max_failures: int = Field(
        5, ge=1, description="Failed password checks allowed per (user, address) in a window")
    login_max_failures_per_address: int = Field(
        20, ge=1, description="Failed password checks allowed per address, any user, in a window")
    login_window_s: int = Field(300, ge=1, description="Window of the login rate limit, and "
                                "the first block; each further block doubles")
    login_max_block_s: int = Field(3600, ge=1, description="Longest block of the backoff")
    password_checks: int = Field(2, ge=1, le=16, description="Password checks run at once "
                                 "(argon2 takes 64 MiB each)")
    password_queue: int = Field(6, ge=0, le=1000, description="Password checks waiting for a "
                                "free slot; more get 503 at once")
    token_ttl_days: int = Field(90, ge=1, description="Lifetime of a bearer token by default")
    token_max_ttl_days: int = Field(365, ge=1, description="Longest lifetime a token may ask for")
    trusted_origins: list[str] = Field(default_factory=list, description="Extra allowed Origins")


class WebRTCConfig(_Section):
    """``[webrtc]``; defaults come from streams/settings.py (the one place they live)."""
    ice_addresses: list[str] = Field(
        default_factory=lambda: list(D.ice_addresses),
        description="Host addresses advertised as ICE candidates; empty = 127.0.0.1 and every "
                    "local IPv4; an address not on this machine is treated as a 1:1 NAT address",
    )
    udp_port_min: int = Field(D.udp_port_min, ge=0, le=65535,
                              description="First UDP port for media; 0 = any")
    udp_port_max: int = Field(D.udp_port_max, ge=0, le=65535,
                              description="Last UDP port for media; 0 = any")


class StreamsConfig(_Section):
    """``[streams]``; defaults come from streams/settings.py (the one place they live)."""
    linger_s: float = Field(D.linger_s, ge=0,
                            description="Keep pulling this long after the last viewer")
    stall_timeout_s: float = Field(D.stall_timeout_s, gt=0,
                                   description="No packet this long = stalled")
    lost_timeout_s: float = Field(D.lost_timeout_s, gt=0,
                                  description="No packet this long = lost")
    open_timeout_s: float = Field(D.open_timeout_s, gt=0,
                                  description="RTSP connect/handshake timeout")
    reconnect_min_s: float = Field(D.reconnect_min_s, gt=0, description="First reconnect delay")
    reconnect_max_s: float = Field(D.reconnect_max_s, gt=0,
                                   description="Cap of the reconnect backoff")
    snapshot_cache_s: float = Field(D.snapshot_cache_s, ge=0,
                                    description="Reuse a snapshot this long")
    ingest: Ingest = Field(
        D.ingest, description="How cameras are read: 'pyav' (FFmpeg's demuxer, any codec) or 'rtp' "
        "(our RTSP client: an H.264 frame is forwarded as soon as its last packet arrives, one "
        "frame interval sooner; other codecs still go through FFmpeg)")
    max_sessions: int = Field(D.max_sessions, ge=0, description="Viewer sessions on this server; "
                              "past it a new WHEP offer gets 503 + Retry-After; 0 = no limit")
    max_sessions_per_user: int = Field(D.max_sessions_per_user, ge=0, description="Viewer "
                                       "sessions of one user (a display node is a user); "
                                       "0 = no limit")
    max_sessions_per_camera: int = Field(D.max_sessions_per_camera, ge=0, description="Viewer "
                                         "sessions of one camera (main + sub); 0 = no limit")
    retry_after_s: int = Field(D.retry_after_s, ge=1,
                               description="Retry-After sent with a 503 refusal")
    processes: int = Field(D.processes, ge=0, le=256, description="Media processes (cameras are "
                           "spread over them, each runs its own WebRTC and analytics taps); 0 = "
                           "one per core, 1 = media inside the web process")
    node_timeout_s: float = Field(D.node_timeout_s, gt=0, le=120, description="A media process "
                                  "silent (no heartbeat) this long is killed and restarted")
    node_memory_mb: int = Field(D.node_memory_mb, ge=0, description="A media process whose "
                                "memory is over this is restarted; 0 = no cap")


RD = ReplaySettings()


class ReplayConfig(_Section):
    """``[replay]``: instant replay, a short rolling buffer per camera in its media process;
    defaults come from streams/settings.py (ReplaySettings)."""
    cameras: ReplayCameras = Field(RD.cameras, description="Which cameras are buffered: "
                                   "'wall' (on a wall layout or with zones), 'all', 'none'")
    sub_seconds: float = Field(RD.sub_seconds, ge=0, le=3600,
                               description="Seconds of the sub stream kept (0 = none)")
    main_seconds: float = Field(RD.main_seconds, ge=0, le=3600,
                                description="Seconds of the main stream kept (0 = none)")
    max_bytes_per_camera: int = Field(RD.max_bytes_per_camera, ge=1 << 16, description="Memory "
                                      "of one buffered stream (oldest dropped past it)")
    max_bytes_total: int = Field(RD.max_bytes_total, ge=0, description="Memory of all buffers "
                                 "of one media process (oldest dropped past it); 0 = no cap")
    export_roles: list[str] = Field(["admin", "operator"], description="Roles that may "
                                    "download a clip (?download=1); each export is audited")
    pre_alarm_seconds: float = Field(20.0, ge=0, le=600, description="Seconds before an "
                                     "alarm that its camera's tile first replays, then goes "
                                     "live (0 = off)")

    @field_validator("export_roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        from iocwall.wall.access import Role
        known = {r.value for r in Role}
        bad = [v for v in value if v not in known]
        if bad:
            raise ValueError(f"unknown role {bad[0]!r}; one of {sorted(known)}")
        return value

    def settings(self) -> ReplaySettings:
        return ReplaySettings(self.cameras, self.sub_seconds, self.main_seconds,
                              self.max_bytes_per_camera, self.max_bytes_total)


def stream_settings(streams: StreamsConfig, webrtc: WebRTCConfig,
                    replay: ReplayConfig | None = None) -> StreamSettings:
    """The validated ``[streams]``, ``[webrtc]`` and ``[replay]`` sections as the media side's
    one settings model: the only place config becomes StreamSettings. Every field of
    StreamsConfig and WebRTCConfig is a field of StreamSettings of the same name, and
    [replay]'s media fields are its ``replay`` (a test checks it)."""
    values: dict[str, Any] = {**streams.model_dump(), **webrtc.model_dump()}
    values["ice_addresses"] = tuple(values["ice_addresses"])
    return StreamSettings(**values, replay=(replay or ReplayConfig()).settings())


class WallConfig(_Section):
    heartbeat_timeout_s: float = Field(5.0, gt=0, le=60,
                                       description="A display silent this long is shown as down")
    demo_open_display: bool = Field(False, description="Demo only: the demo wall's display pages "
                                    "work without pairing, from loopback only")
    pair_per_address: int = Field(10, ge=1, le=1000, description="Display pairing starts "
                                  "allowed per address per pair_window_s (then 429)")
    pair_window_s: float = Field(60.0, gt=0, le=3600, description="Window of pair_per_address; "
                                 "a repeated block doubles, up to 16 windows")
    pair_max_open: int = Field(200, ge=1, le=100_000, description="Open (unapproved) pairings "
                               "kept at once, all addresses together (then 503)")
    pair_ttl_s: float = Field(900.0, ge=10, le=86400, description="An unapproved pairing "
                              "expires after this many seconds")


class RegistryConfig(_Section):
    key_file: str = Field("registry.key", description="Credential key file, relative to "
                          "data_dir; created 0600; IOCWALL_REGISTRY_KEY overrides it")
    seed_province: str = Field("Hà Nội", description="Province of [[cameras]] naming none")
    seed_centre: str = Field("Trung tâm Phục vụ hành chính công",
                             description="Service centre of [[cameras]] naming none")
    test_seconds: float = Field(3.0, gt=0, le=60, description="Test connection: seconds watched")
    test_timeout_s: float = Field(5.0, gt=0, le=60, description="Test/ONVIF answer timeout")
    discovery_timeout_s: float = Field(2.0, gt=0, le=30, description="WS-Discovery listen time")

    @field_validator("seed_province")
    @classmethod
    def _province(cls, value: str) -> str:
        from iocwall.wall.provinces import UnknownProvince, resolve
        try:
            resolve(value)
        except UnknownProvince as exc:
            raise ValueError(str(exc)) from None
        return value


class ZoneConfig(_Section):
    camera: str = Field(..., description="Camera id whose sub stream is counted")
    id: str = Field(..., pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Zone id, e.g. the counter")
    polygon: list[list[float]] = Field(..., description="[[x, y], ...] in sub-stream pixels")

    @field_validator("polygon")
    @classmethod
    def _polygon(cls, value: list[list[float]]) -> list[list[float]]:
        from iocwall.analytics.zones import Zone, ZoneError
        try:
            Zone.build("zone", value)
        except ZoneError as exc:
            raise ValueError(str(exc).removeprefix("zone zone: ")) from None
        return value


class AnalyticsConfig(_Section):
    enabled: bool = Field(True, description="Tap cameras that have zones and serve workers")
    tap_address: str = Field("tcp://127.0.0.1:5571", description="ZeroMQ address of the tap; "
                             "workers connect here (bind 0.0.0.0 for workers on other machines)")
    # 3, not 2: a count shown is up to ~2 frame intervals + the detection old (the frame waits
    # for the worker, then the count waits for the next one), so 3 fps keeps it under 1 s.
    fps: float = Field(3.0, gt=0, le=15, description="Frames per second analysed per camera")
    keyframes_only: bool = Field(False, description="Decode keyframes only (fps <= GOP rate)")
    jpeg_quality: int = Field(85, ge=30, le=100, description="Quality of frames sent to workers")
    worker_timeout_s: float = Field(1.5, gt=0, description="A silent worker loses its cameras")
    detector: Literal["hog", "yolo"] = Field("hog", description="'yolo' needs weights")
    weights: str = Field("", description="YOLO weights file, never downloaded")
    device: str = Field("", description="cpu, cuda:0 ...; empty = GPU when present")
    half: bool = Field(False, description="FP16 inference on GPU")
    imgsz: int = Field(640, ge=64, le=1920, description="YOLO input size")
    batch: int = Field(8, ge=1, le=256, description="Frames per detector call")
    alert_waiting: int = Field(0, ge=0, description="Alert when a zone has more people; 0 = off")
    max_count_age_s: float = Field(2.0, gt=0, le=60, description="A count older than this is "
                                   "shown as stale (no current count), never as current")
    zones: list[ZoneConfig] = Field(default_factory=list, description="Queue zones per camera")


class CameraConfig(_Section):
    id: str = Field(..., pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="Stable id, a-z0-9_-")
    name: str = Field(..., min_length=1, description="Name shown to users")
    main_url: str = Field(..., description="RTSP URL of the main stream")
    sub_url: str = Field("", description="RTSP URL of the sub stream; empty = main only")
    username: str = Field("", description="RTSP user (overrides the URL's)")
    password: str = Field("", repr=False, description="Prefer IOCWALL_CAMERA_<ID>_PASSWORD")
    location: str = Field("", description="Counter or hall the camera looks at")
    transport: Literal["auto", "tcp", "udp"] = Field(
        "auto", description="RTP transport: auto = TCP interleaved, UDP if the camera refuses")
    allow_basic_auth: bool = Field(
        False, description="Send the password as Basic auth (clear text) if the camera asks")
    province: str = Field("", description="Province (one of the 34); empty = [registry] "
                          "seed_province")
    centre: str = Field("", description="Service centre; empty = [registry] seed_centre")

    @field_validator("main_url", "sub_url")
    @classmethod
    def _rtsp_url(cls, value: str) -> str:
        if value:
            try:
                parse(value)
            except UrlError as exc:
                raise ValueError(str(exc)) from None
        return value


class IndicatorsConfig(_Section):
    registry: str = Field("", description="Indicator registry TOML; empty = the shipped one")
    demo_data: bool = Field(False, description="Load the demo figures at start if none stored")


def _smtp_url(value: str) -> str:
    if value.strip():
        from iocwall.wall.notify.smtp_url import parse_smtp_url
        parse_smtp_url(value)                  # raises ValueError with what to write instead
    return value.strip()


def _http_url(value: str) -> str:
    value = value.strip()
    if value and not re.match(r"^https?://[^/\s]+", value, re.IGNORECASE):
        raise ValueError("expected an http:// or https:// URL")
    return value


def _email_list(values: list[str]) -> list[str]:
    from iocwall.wall.notify.contacts import check_email
    return [check_email(v) for v in values if v.strip()]


def _phone_list(values: list[str]) -> list[str]:
    from iocwall.wall.notify.contacts import check_phone
    return [check_phone(v) for v in values if v.strip()]


class NotifyConfig(_Section):
    """``[notify]``: alerts that reach people (wall/notify/). Secrets come from the
    environment only: IOCWALL_SMTP_PASSWORD, the webhook's and the SMS gateway's variables."""
    public_url: str = Field("", description="Absolute URL put in messages' links; empty = "
                            "[server] public_url, else http://host:port")
    smtp_url: Annotated[str, AfterValidator(_smtp_url)] = Field(
        "", description="smtp://user@host:587 (STARTTLS), smtps://user@host:465 or "
        "smtp+plain://127.0.0.1:25 (local relay); password from IOCWALL_SMTP_PASSWORD; "
        "empty = no e-mail")
    smtp_ca_file: str = Field("", description="PEM file of CAs to trust for the SMTP server "
                              "(a site's private CA); empty = the system's")
    smtp_timeout_s: float = Field(20.0, gt=0, le=300, description="SMTP connect/answer timeout")
    email_from: str = Field("iocwall@localhost", description="From: address of every message")
    email_to: Annotated[list[str], AfterValidator(_email_list)] = Field(
        default_factory=list, description="Recipients of every alert, beside the subscriptions")
    webhook_url: Annotated[str, AfterValidator(_http_url)] = Field(
        "", description="Signed JSON POST of every alert; empty = none")
    webhook_secret_env: str = Field("IOCWALL_WEBHOOK_SECRET", description="Environment "
                                    "variable holding the webhook's HMAC-SHA256 secret")
    sms_url: Annotated[str, AfterValidator(_http_url)] = Field(
        "", description="SMS gateway endpoint (POST); empty = no SMS")
    sms_headers: dict[str, str] = Field(
        default_factory=dict, description="Headers of the gateway request; placeholders "
        "{api_key} {request_id} are filled in")
    sms_body: dict[str, Any] = Field(
        default_factory=lambda: {"to": "{phone}", "text": "{text}", "request_id":
                                 "{request_id}", "api_key": "{api_key}"},
        description="JSON body template; strings may hold {phone} {text} {request_id} {api_key}")
    sms_api_key_env: str = Field("IOCWALL_SMS_API_KEY", description="Environment variable "
                                 "holding the gateway's API key")
    sms_to: Annotated[list[str], AfterValidator(_phone_list)] = Field(
        default_factory=list, description="Phones that get every alert, beside subscriptions")
    http_timeout_s: float = Field(10.0, gt=0, le=120, description="Webhook/SMS request timeout")
    all_roles: list[str] = Field(default_factory=lambda: ["admin"], description="Roles whose "
                                 "users (with an e-mail or phone) get every alert")
    province_roles: list[str] = Field(
        default_factory=lambda: ["technician", "registrar"], description="Roles whose users "
        "get the alerts of their own province (their unit)")
    max_attempts: int = Field(8, ge=1, le=100, description="Tries per message before failed")
    backoff_min_s: float = Field(30.0, gt=0, le=86400, description="Delay after the first "
                                 "failed try; doubles each try (with jitter)")
    backoff_max_s: float = Field(3600.0, gt=0, le=86400, description="Longest delay between "
                                 "tries")
    poll_s: float = Field(2.0, gt=0, le=60, description="How often the sender looks for due "
                          "messages (a new message wakes it at once)")
    batch: int = Field(16, ge=1, le=1000, description="Messages claimed and sent at once: the "
                       "most a dead gateway holds in memory")
    claim_s: float = Field(120.0, gt=0, le=3600, description="A claimed message not finished "
                           "in this time (the sender died) is taken up again")

    _env: dict[str, str] | None = PrivateAttr(default=None)

    def use_env(self, env: Mapping[str, str]) -> None:
        """Where secrets are read from (load() passes its env; default os.environ)."""
        self._env = dict(env)

    def secret(self, name: str) -> str:
        """The value of environment variable ``name`` ("" when unset). Never logged."""
        env = self._env if self._env is not None else os.environ
        return env.get(name, "")

    def smtp_password(self) -> str:
        return self.secret("IOCWALL_SMTP_PASSWORD")

    def problems(self) -> list[str]:
        """Settings that cannot work together (a start refuses them), one line each."""
        found = []
        if self.smtp_url and not self.email_from.strip():
            found.append("[notify] email_from is empty but smtp_url is set")
        if self.smtp_url:
            from iocwall.wall.notify.smtp_url import parse_smtp_url
            if parse_smtp_url(self.smtp_url).username and not self.smtp_password():
                found.append("[notify] smtp_url names a user but IOCWALL_SMTP_PASSWORD is "
                             "not set")
        if self.webhook_url and not self.secret(self.webhook_secret_env):
            found.append(f"[notify] webhook_url is set but {self.webhook_secret_env} (the "
                         "HMAC secret) is not")
        if self.sms_url and "{api_key}" in repr([self.sms_headers, self.sms_body]) \
                and not self.secret(self.sms_api_key_env):
            found.append(f"[notify] the SMS template uses {{api_key}} but "
                         f"{self.sms_api_key_env} is not set")
        slowest = max(self.smtp_timeout_s, self.http_timeout_s)
        if self.claim_s < 2 * slowest:
            found.append(f"[notify] claim_s ({self.claim_s:g}) must be at least twice the "
                         f"slowest send timeout ({slowest:g} s), or a slow send is taken up "
                         "again while it still runs")
        if self.smtp_ca_file and not Path(self.smtp_ca_file).expanduser().is_file():
            found.append(f"[notify] smtp_ca_file {self.smtp_ca_file!r} is not a file")
        return found

    @field_validator("all_roles", "province_roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        from iocwall.wall.access import Role
        known = {r.value for r in Role if r is not Role.DISPLAY}
        for role in value:
            if role not in known:
                raise ValueError(f"unknown role '{role}'; expected some of {sorted(known)}")
        return value

    @field_validator("backoff_max_s")
    @classmethod
    def _bounds(cls, value: float, info: Any) -> float:
        low = info.data.get("backoff_min_s")
        if low is not None and value < low:
            raise ValueError("must be at least backoff_min_s")
        return value


ALERT_RULES = ("camera_lost", "province_cameras_low", "media_node_down", "display_node_down",
               "worker_down", "controller_down", "store_down", "bus_down", "disk_low",
               "certificate_expiring", "queue_over", "report_late")


class AlertsConfig(_Section):
    """Health sampling and alert rules (wall/health/). Times in seconds."""
    enabled: bool = Field(True, description="Sample health and evaluate the alert rules")
    sample_s: float = Field(5.0, ge=0.05, le=300, description="How often components are "
                            "sampled (camera availability, alert rules)")
    availability_flush_s: float = Field(60.0, ge=0.05, le=3600, description="How often the "
                                        "sampled availability seconds are written to the store")
    camera_lost_s: float = Field(300.0, ge=0, description="Raise camera_lost when a camera has "
                                 "been stalled or lost this long (N minutes x 60)")
    raise_hold_s: float = Field(30.0, ge=0, description="Hold-down before raising: a condition "
                                "must last this long (rules other than camera_lost)")
    resolve_hold_s: float = Field(30.0, ge=0, description="Hold-down before resolving: the "
                                  "condition must stay away this long (no flapping)")
    province_online_min: float = Field(80.0, ge=0, le=100, description="Raise "
                                       "province_cameras_low when under this % of a province's "
                                       "observed cameras are live")
    camera_min_fps: float = Field(1.0, ge=0, description="A live camera below this fps is "
                                  "shown degraded on the board; 0 = not judged")
    probe_s: float = Field(60.0, ge=0, le=3600, description="How often each camera nobody "
                           "pulls is probed (RTSP OPTIONS + DESCRIBE with its credentials), "
                           "spread over the period; 0 = off (idle cameras stay unobserved)")
    probe_timeout_s: float = Field(5.0, gt=0, le=60, description="Each probe step's timeout "
                                   "(connect, OPTIONS, DESCRIBE)")
    probe_concurrency: int = Field(8, ge=1, le=256, description="Probes in flight at once")
    disk_free_min_percent: float = Field(10.0, ge=0, le=100, description="Raise disk_low when "
                                         "the data dir's disk has less free space than this")
    certificate_file: str = Field("", description="PEM certificate whose expiry is watched "
                                  "(e.g. the TLS proxy's); empty = not configured")
    certificate_warn_days: float = Field(14.0, ge=0, description="Raise certificate_expiring "
                                         "this many days before the certificate expires")
    disabled: list[str] = Field(default_factory=list, description="Rules switched off, e.g. "
                                "[\"report_late\"]")

    @field_validator("disabled")
    @classmethod
    def _known_rules(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in ALERT_RULES]
        if unknown:
            raise ValueError(f"unknown rule {unknown[0]!r}; expected some of "
                             f"{', '.join(ALERT_RULES)}")
        return value


def _host_port(value: str) -> str:
    host, sep, port = value.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("expected host:port, e.g. 10.0.0.5:7450")
    return value.strip()


def _controller_url(value: str) -> str:
    value = value.strip()
    if value and not value.lower().startswith(("http://", "https://")):
        raise ValueError("expected empty or an http(s) URL, e.g. https://10.0.0.11:8443")
    return value


class ClusterConfig(_Section):
    """``[cluster]``: several controllers and media nodes serving one site."""
    # -- lease19: the leader lease (wall/cluster/)
    controller_url: Annotated[str, AfterValidator(_controller_url)] = Field(
        "", description="URL other machines reach this controller at (shown by "
                        "GET /api/cluster); empty = public_url, else the listen address")
    lease_ttl_s: float = Field(4.0, gt=0, le=300, description="Leader lease lifetime: a leader "
                               "that died is replaced within this many seconds (4: within "
                               "the 5 s the sources' drill asks, with a second to spare)")
    lease_renew_s: float = Field(1.0, gt=0, le=150, description="How often the leader renews "
                                 "its lease (and the others try to take it); under "
                                 "lease_ttl_s / 2")
    # -- nodes19: media nodes on other machines
    media: Literal["processes", "nodes"] = Field(
        "processes", description="Where media runs: 'processes' (this machine, [streams] "
        "processes) or 'nodes' (`iocwall media-node` on other machines, found through "
        "their heartbeats on the Redis bus)")
    secret_file: str = Field("", description="File holding the shared secret (16 bytes or "
                             "more) controllers and media nodes prove to each other; the same "
                             "file everywhere; needed with media = 'nodes' and by media nodes")
    ca_file: str = Field("", description="PEM of the cluster's own CA, which signed the "
                         "media nodes' TLS certificates; needed with media = 'nodes' (the "
                         "public roots are refused: camera passwords go to the nodes)")

    @model_validator(mode="after")
    def _renew_in_time(self) -> ClusterConfig:
        # two renewals must fit in one lifetime: one lost renewal never loses the lease
        if self.lease_renew_s >= self.lease_ttl_s / 2:
            raise ValueError(f"lease_renew_s ({self.lease_renew_s:g}) must be under "
                             f"lease_ttl_s / 2 ({self.lease_ttl_s / 2:g}), so that one lost "
                             "renewal does not lose the lease")
        return self


class MediaNodeConfig(_Section):
    """``[media_node]``: what `iocwall media-node` runs as (nodes19)."""
    id: str = Field("", pattern=r"^$|^[a-z0-9][a-z0-9-]{0,62}$",
                    description="This node's id, unique in the cluster (a-z, 0-9, -)")
    listen: Annotated[str, AfterValidator(_host_port)] = Field(
        "0.0.0.0:7450", description="host:port the node listens on for controllers (TLS)")
    advertise: str = Field("", description="host:port controllers connect to (a name or "
                           "address in the certificate); empty = listen, 127.0.0.1 for "
                           "0.0.0.0")
    ice_addresses: list[str] = Field(
        default_factory=list, description="Addresses this node's WebRTC answers offer as "
        "host candidates (browsers send media straight here); empty = [webrtc] ice_addresses")
    cert_file: str = Field("", description="PEM certificate the node serves TLS with")
    key_file: str = Field("", description="PEM private key of cert_file")
    capacity: int = Field(64, ge=1, le=10_000, description="Cameras this node is sized for "
                          "(announced; shown to operators)")


class Config(_Section):
    server: ServerConfig = Field(default_factory=ServerConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    bus: BusConfig = Field(default_factory=BusConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    webrtc: WebRTCConfig = Field(default_factory=WebRTCConfig)
    streams: StreamsConfig = Field(default_factory=StreamsConfig)
    replay: ReplayConfig = Field(default_factory=ReplayConfig)
    wall: WallConfig = Field(default_factory=WallConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    cameras: list[CameraConfig] = Field(default_factory=list)
    indicators: IndicatorsConfig = Field(default_factory=IndicatorsConfig)
    analytics: AnalyticsConfig = Field(default_factory=AnalyticsConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    media_node: MediaNodeConfig = Field(default_factory=MediaNodeConfig)

    @property
    def data_path(self) -> Path:
        return Path(self.server.data_dir).expanduser()

    def stream_settings(self) -> StreamSettings:
        """What the media side is built from (see ``stream_settings``)."""
        return stream_settings(self.streams, self.webrtc, self.replay)


class ConfigError(Exception):
    """One line per problem, ready to print."""


def load(path: str | Path | None, env: dict[str, str] | None = None) -> Config:
    """Read, validate and apply environment overrides. Raises ConfigError."""
    env = dict(os.environ if env is None else env)
    text, name = "", "<defaults>"
    if path is not None:
        p = Path(path)
        name = str(p)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{name}: cannot read ({exc.strerror})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML: {exc}") from None
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(e, text, name) for e in exc.errors())) from None
    _apply_env(config, env)
    config.notify.use_env(env)
    if problems := config.notify.problems():
        raise ConfigError("\n".join(f"{name}: {p}" for p in problems))
    return config


def load_config(path: str | Path | None = None, *, host: str | None = None,
                port: int | None = None, data_dir: str | None = None,
                env: dict[str, str] | None = None) -> Config:
    """config.toml (``path``; None = ./config.toml if present, else the built-in defaults)
    with the command line's overrides (None = keep the file's). Raises ConfigError."""
    if path is None and Path("config.toml").is_file():
        path = "config.toml"
    config = load(path, env)
    if host is not None:
        config.server.host = host
    if port is not None:
        config.server.port = port
    if data_dir is not None:
        config.server.data_dir = data_dir
    return config


def _apply_env(config: Config, env: dict[str, str]) -> None:
    if env.get("IOCWALL_ADMIN_PASSWORD"):
        config.auth.admin_password = env["IOCWALL_ADMIN_PASSWORD"]
    if env.get("IOCWALL_SESSION_SECRET"):
        config.auth.session_secret = env["IOCWALL_SESSION_SECRET"]
    for cam in config.cameras:
        key = "IOCWALL_CAMERA_" + re.sub(r"[^A-Z0-9]", "_", cam.id.upper()) + "_PASSWORD"
        if env.get(key):
            cam.password = env[key]


def _describe(error: Mapping[str, Any], text: str, name: str) -> str:
    loc = [str(p) for p in error["loc"]]
    key = ".".join(loc)
    line = _find_line(text, error["loc"])
    where = f"{name}:{line}" if line else name
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key '{key}' (check the spelling; see config.toml for valid keys)"
    if error["type"] == "missing":
        return f"{where}: missing key '{key}'"
    value = error.get("input")
    shown = "***" if "password" in key or "secret" in key else \
        repr(redact(value) if isinstance(value, str) else value)   # no user:pass@ from URLs
    msg = error["msg"].removeprefix("Value error, ")
    return f"{where}: '{key}' = {shown} is invalid: {msg}"


def _find_line(text: str, loc: tuple) -> int | None:
    """Best-effort line number of a key path (e.g. ('cameras', 1, 'main_url')) in the TOML."""
    names = [p for p in loc if isinstance(p, str)]
    index = next((p for p in loc if isinstance(p, int)), 0)
    if not names or not text:
        return None
    section_prefix = ".".join(names[:-1])
    current, seen = "", dict[str, int]()
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        header = re.match(r"^\[\[?([^\]]+)\]\]?", stripped)
        if header:
            current = header.group(1).strip()
            seen[current] = seen.get(current, -1) + 1
            if len(names) == 1 and current == names[0]:
                return number
            continue
        key = re.match(r"^([A-Za-z0-9_-]+)\s*=", stripped)
        if key and key.group(1) == names[-1] and current == section_prefix \
                and seen.get(current, 0) == index:
            return number
    return None
