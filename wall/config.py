"""config.toml: typed, documented, validated once at start.

Unknown keys are refused; every error names the file, line, key path, the bad
value and what is expected, on one line. Secrets come from the environment
(IOCWALL_ADMIN_PASSWORD, IOCWALL_SESSION_SECRET, IOCWALL_CAMERA_<ID>_PASSWORD).
"""
from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from iocwall.streams.urls import UrlError, parse, redact


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ServerConfig(_Section):
    host: str = Field("127.0.0.1", description="Address the web server listens on")
    port: int = Field(8080, ge=0, le=65535, description="TCP port of the web server; 0 = any free")
    data_dir: str = Field("data", description="Folder for the database, logs and caches")
    public_url: str = Field("", description="URL users reach the console at; empty = http://host:port")


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level")
    file: str = Field("logs/iocwall.log", description="Log file, relative to data_dir; empty = none")
    json_lines: bool = Field(True, description="Write the log file as one JSON object a line")


class StorageConfig(_Section):
    path: str = Field("iocwall.sqlite3", description="SQLite file, relative to data_dir")


class BusConfig(_Section):
    backend: Literal["memory", "redis"] = Field("memory", description="Event bus implementation")
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL when backend = redis")
    prefix: str = Field("iocwall", description="Channel and key prefix on Redis")


class AuthConfig(_Section):
    admin_user: str = Field("admin", min_length=1, description="First admin, created at first start")
    admin_password: str = Field("", description="Prefer IOCWALL_ADMIN_PASSWORD; empty = generate")
    session_secret: str = Field("", description="Prefer IOCWALL_SESSION_SECRET; empty = generate")
    session_max_age_s: int = Field(12 * 3600, ge=60, description="Session cookie lifetime")
    cookie_secure: bool = Field(False, description="Send the cookie over HTTPS only")
    login_max_failures: int = Field(5, ge=1, description="Failed logins allowed per window")
    login_window_s: int = Field(300, ge=1, description="Window of the login rate limit")
    trusted_origins: list[str] = Field(default_factory=list, description="Extra allowed Origins")


class WebRTCConfig(_Section):
    ice_addresses: list[str] = Field(
        default_factory=list,
        description="Host addresses advertised as ICE candidates; empty = 127.0.0.1 and every "
                    "local IPv4; an address not on this machine is treated as a 1:1 NAT address",
    )
    udp_port_min: int = Field(0, ge=0, le=65535, description="First UDP port for media; 0 = any")
    udp_port_max: int = Field(0, ge=0, le=65535, description="Last UDP port for media; 0 = any")


class StreamsConfig(_Section):
    linger_s: float = Field(10.0, ge=0, description="Keep pulling this long after the last viewer")
    stall_timeout_s: float = Field(2.0, gt=0, description="No packet this long = stalled")
    lost_timeout_s: float = Field(6.0, gt=0, description="No packet this long = lost")
    open_timeout_s: float = Field(5.0, gt=0, description="RTSP connect/handshake timeout")
    reconnect_min_s: float = Field(0.5, gt=0, description="First reconnect delay")
    reconnect_max_s: float = Field(30.0, gt=0, description="Cap of the reconnect backoff")
    snapshot_cache_s: float = Field(1.0, ge=0, description="Reuse a snapshot this long")
    ingest: Literal["pyav", "rtp"] = Field(
        "rtp", description="How cameras are read: 'pyav' (FFmpeg's demuxer, any codec) or 'rtp' "
        "(our RTSP client: an H.264 frame is forwarded as soon as its last packet arrives, one "
        "frame interval sooner; other codecs still go through FFmpeg)")


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

    @field_validator("main_url", "sub_url")
    @classmethod
    def _rtsp_url(cls, value: str) -> str:
        if value:
            try:
                parse(value)
            except UrlError as exc:
                raise ValueError(str(exc)) from None
        return value


class Config(_Section):
    server: ServerConfig = Field(default_factory=ServerConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    bus: BusConfig = Field(default_factory=BusConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    webrtc: WebRTCConfig = Field(default_factory=WebRTCConfig)
    streams: StreamsConfig = Field(default_factory=StreamsConfig)
    cameras: list[CameraConfig] = Field(default_factory=list)

    @property
    def data_path(self) -> Path:
        return Path(self.server.data_dir).expanduser()


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


def _describe(error: dict, text: str, name: str) -> str:
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
    current, seen = "", {}
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
