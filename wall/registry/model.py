"""What a province registers: its profile (the Government Office's form) and its cameras.

Request bodies are pydantic models that refuse unknown fields and check every field
(``validation.py``); stored cameras are plain dataclasses. Credentials travel only
inward: ``RegisteredCamera.public()`` says whether they are set, never what they are.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from iocwall.wall.registry import validation as check
from iocwall.wall.text import Name, OptionalName, checked_name

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class Body(BaseModel):
    """Unknown fields are refused (same rule as wall.api.common.Body)."""
    model_config = ConfigDict(extra="forbid", str_max_length=4096)


class Transport(str, enum.Enum):
    AUTO = "auto"
    TCP = "tcp"
    UDP = "udp"


class ContactRole(str, enum.Enum):
    DATA = "data"
    TECHNICAL = "technical"
    CONNECTION = "connection"
    IOC = "ioc"


class CameraType(str, enum.Enum):
    ANALOG = "analog"
    IP = "ip"
    OTHER = "other"


class Channel(str, enum.Enum):
    INTERNET = "internet"
    LEASED_LINE = "leased_line"
    VPN = "vpn"                      # VPN over the Internet
    GOV_NETWORK = "gov_network"      # the government's private data network


class Contact(Body):
    name: Name = Field(min_length=1, max_length=200)
    unit: Name = Field("", max_length=200)
    position: Name = Field("", max_length=200)
    phone: str
    role: ContactRole

    _phone = field_validator("phone")(lambda cls, v: check.phone(v))


class CameraSystem(Body):
    camera_type: CameraType = CameraType.IP
    count: int = Field(0, ge=0, le=10_000)
    vendor: Name = Field("", max_length=100)
    model: Name = Field("", max_length=100)
    resolution: Name = Field("", max_length=50)
    recorder: Name = Field("", max_length=200)       # NVR/DVR
    storage: Name = Field("", max_length=200)
    internet: bool = False


class Transmission(Body):
    bandwidth: str = Field("", description="declared bandwidth, e.g. 100 Mbps")
    channel: Channel = Channel.INTERNET
    endpoint: str = Field("", max_length=300)

    _bandwidth = field_validator("bandwidth")(lambda cls, v: (check.bandwidth(v), v.strip())[1]
                                              if v else "")
    _endpoint = field_validator("endpoint")(lambda cls, v: check.endpoint(v))

    @property
    def bandwidth_bps(self) -> int | None:
        return check.bandwidth(self.bandwidth) if self.bandwidth else None


class IocSystem(Body):
    name: Name = Field(min_length=1, max_length=200)
    purpose: Name = Field("", max_length=500)
    data: Name = Field("", max_length=500)


class Profile(Body):
    """A province's registration profile; ``province`` is checked against the 34 units."""
    province: str
    centre: Name = Field(min_length=1, max_length=200)
    address: Name = Field("", max_length=300)
    contacts: list[Contact] = Field(default_factory=list, max_length=20)
    system: CameraSystem = Field(default_factory=lambda: CameraSystem.model_validate({}))
    path: list[str] = Field(default_factory=list, max_length=16)
    transmission: Transmission = Field(
        default_factory=lambda: Transmission.model_validate({}))
    ioc_systems: list[IocSystem] = Field(default_factory=list, max_length=50)

    _province = field_validator("province")(lambda cls, v: check.province_code(v))

    @field_validator("path")
    @classmethod
    def _hops(cls, hops: list[str]) -> list[str]:
        cleaned = [checked_name(h).strip() for h in hops]
        if any(not h or len(h) > 80 for h in cleaned):
            raise ValueError("each hop is a short name, e.g. camera, switch, firewall, router, "
                             "Internet / mỗi chặng là một tên ngắn")
        return cleaned


def _has_source(rtsp_main: str, rtsp_sub: str, onvif: str) -> None:
    """A camera is pulled from rtsp_main (and rtsp_sub), or found through its ONVIF service."""
    if not rtsp_main and not onvif:
        raise ValueError("give rtsp_main (and optionally rtsp_sub) or onvif (host:port) "
                         "/ cần địa chỉ RTSP hoặc ONVIF")
    if rtsp_sub and not rtsp_main:
        raise ValueError("rtsp_sub needs rtsp_main / cần luồng chính")


class CameraIn(Body):
    """POST /api/cameras."""
    id: str | None = Field(None, pattern=ID_PATTERN)
    province: str
    centre: Name = Field(min_length=1, max_length=200)
    name: Name = Field(min_length=1, max_length=200)
    location: Name = Field("", max_length=200)
    onvif: str = ""
    rtsp_main: str = ""
    rtsp_sub: str = ""
    transport: Transport = Transport.AUTO
    username: str = Field("", max_length=128)
    password: str = Field("", max_length=256)
    # Basic sends the password readable by anyone on the path: only when the operator says so
    allow_basic_auth: bool = False
    tags: list[str] = Field(default_factory=list, max_length=20)

    _province = field_validator("province")(lambda cls, v: check.province_code(v))
    _onvif = field_validator("onvif")(
        lambda cls, v: "{}:{}".format(*check.host_port(v)) if v.strip() else "")
    _tags = field_validator("tags")(lambda cls, v: _tags(v))

    @field_validator("rtsp_main", "rtsp_sub")
    @classmethod
    def _rtsp(cls, v: str) -> str:
        if check.rtsp_url(v)[1] is not None:
            raise ValueError("put the user name and password in their own fields, not in the "
                             "URL / nhập tài khoản ở ô riêng")
        return check.rtsp_url(v)[0]

    @model_validator(mode="after")
    def _has_source(self) -> CameraIn:
        _has_source(self.rtsp_main, self.rtsp_sub, self.onvif)
        return self


class CameraTry(Body):
    """POST /api/registry/test: a camera form's connection fields, tested and not stored."""
    province: str = ""
    onvif: str = ""
    rtsp_main: str = ""
    rtsp_sub: str = ""
    transport: Transport = Transport.AUTO
    username: str = Field("", max_length=128)
    password: str = Field("", max_length=256)
    allow_basic_auth: bool = False

    _province = field_validator("province")(lambda cls, v: check.province_code(v) if v else "")
    _onvif = field_validator("onvif")(
        lambda cls, v: "{}:{}".format(*check.host_port(v)) if v.strip() else "")
    _rtsp = field_validator("rtsp_main", "rtsp_sub")(lambda cls, v: CameraIn._rtsp(v))

    @model_validator(mode="after")
    def _has_source(self) -> CameraTry:
        _has_source(self.rtsp_main, self.rtsp_sub, self.onvif)     # the same rule as adding
        return self


class CameraPatch(Body):
    """PATCH /api/cameras/{id}: only the given fields change; "" clears a URL."""
    province: str | None = None
    centre: OptionalName = Field(None, min_length=1, max_length=200)
    name: OptionalName = Field(None, min_length=1, max_length=200)
    location: OptionalName = Field(None, max_length=200)
    onvif: str | None = None
    rtsp_main: str | None = None
    rtsp_sub: str | None = None
    transport: Transport | None = None
    username: str | None = Field(None, max_length=128)
    password: str | None = Field(None, max_length=256)
    allow_basic_auth: bool | None = None
    tags: list[str] | None = Field(None, max_length=20)

    _province = field_validator("province")(
        lambda cls, v: None if v is None else check.province_code(v))
    _onvif = field_validator("onvif")(
        lambda cls, v: v if not v else "{}:{}".format(*check.host_port(v)))
    _rtsp = field_validator("rtsp_main", "rtsp_sub")(
        lambda cls, v: v if v is None else CameraIn._rtsp(v))
    _tags = field_validator("tags")(lambda cls, v: v if v is None else _tags(v))


def _tags(tags: list[str]) -> list[str]:
    cleaned = sorted({checked_name(t).strip() for t in tags if t.strip()})
    if any(len(t) > 40 for t in cleaned):
        raise ValueError("a tag is at most 40 characters / nhãn tối đa 40 ký tự")
    return cleaned


@dataclass(frozen=True)
class RegisteredCamera:
    """A camera as stored (credentials sealed; ``has_credentials`` only)."""
    id: str
    province: str
    centre: str
    name: str
    location: str
    onvif: str
    rtsp_main: str
    rtsp_sub: str
    transport: Transport
    tags: list[str]
    has_credentials: bool
    source: str
    created_at: str
    updated_at: str
    allow_basic_auth: bool = False
    last_test: dict[str, Any] | None = field(default=None)

    def public(self) -> dict[str, Any]:
        """For responses and the audit log: every field but the credentials."""
        return {"id": self.id, "province": self.province, "centre": self.centre,
                "name": self.name, "location": self.location, "onvif": self.onvif,
                "rtsp_main": self.rtsp_main, "rtsp_sub": self.rtsp_sub,
                "transport": self.transport.value,
                "allow_basic_auth": self.allow_basic_auth, "tags": list(self.tags),
                "has_credentials": self.has_credentials, "source": self.source,
                "created_at": self.created_at, "updated_at": self.updated_at,
                "last_test": self.last_test}
