"""Rows, the verdict, and how they are shown: an aligned table or JSON."""
from __future__ import annotations

import enum
import json
import unicodedata
from dataclasses import dataclass, field

from iocwall.streams.urls import redact


class Result(enum.Enum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    SKIP = "SKIP"


class Check(enum.Enum):
    """Every check the smoke test can report: (key, Vietnamese / English label)."""
    REACH = ("reachability", "Kết nối TCP / Reachability")
    HANDSHAKE = ("rtsp_handshake", "Bắt tay RTSP / RTSP handshake")
    AUTH = ("auth", "Xác thực / Auth")
    CODEC = ("codec", "Mã hoá / Codec")
    RESOLUTION = ("resolution", "Độ phân giải / Resolution")
    FPS = ("fps", "Khung hình/s / Frame rate")
    BITRATE = ("bitrate", "Tốc độ bit / Bitrate")
    GOP = ("keyframe_interval", "Khung khoá / Keyframe interval")
    TIMESTAMPS = ("timestamps", "Nhãn thời gian / Timestamps")
    LOSS = ("packet_loss", "Mất gói / Packet loss")
    CORRUPT = ("corruption", "Lỗi giải mã / Decode errors")
    CONTINUITY = ("continuity", "Liên tục / Continuity")
    TTFF = ("time_to_first_frame", "Khung đầu / Time to first frame")
    LATENCY = ("latency", "Độ trễ / Glass-to-glass")
    ONVIF_DEVICE = ("onvif_device", "Thiết bị ONVIF / ONVIF device")
    ONVIF_PROFILES = ("onvif_profiles", "Hồ sơ ONVIF / ONVIF profiles")
    CLOCK = ("clock_skew", "Lệch giờ / Clock skew")
    PROFILE_MATCH = ("profile_match", "Khớp hồ sơ / Profile vs stream")
    DISPLAY = ("display_node", "Màn hình / Display node")

    @property
    def key(self) -> str:
        return self.value[0]

    @property
    def label(self) -> str:
        return self.value[1]


@dataclass(frozen=True)
class Row:
    stream: str
    check: Check
    result: Result
    value: str = ""
    hint: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"stream": self.stream, "check": self.check.key, "label": self.check.label,
                "result": self.result.value, "value": redact(self.value), "hint": redact(self.hint)}


@dataclass
class Report:
    target: str  # already public (no credentials)
    started: str
    finished: str = ""
    rows: list[Row] = field(default_factory=list)

    def count(self, result: Result) -> int:
        return sum(1 for r in self.rows if r.result is result)

    @property
    def verdict(self) -> Result:
        for result in (Result.FAIL, Result.WARN):
            if self.count(result):
                return result
        return Result.PASS if self.count(Result.PASS) else Result.SKIP

    @property
    def reason(self) -> str:
        """The first failure (or warning) in words: the one line a technician reads first."""
        for result in (Result.FAIL, Result.WARN):
            for row in self.rows:
                if row.result is result:
                    where = f"{row.stream}: " if row.stream else ""
                    return f"{where}{row.hint or row.value}"
        return ""

    def summary_line(self) -> str:
        counts = ", ".join(f"{self.count(r)} {r.value}" for r in Result)
        line = f"Tổng kết / Summary: {self.verdict.value} ({counts})"
        return redact(f"{line} — {self.reason}" if self.reason else line)

    def as_dict(self) -> dict[str, object]:
        return {
            "target": self.target, "started": self.started, "finished": self.finished,
            "rows": [r.as_dict() for r in self.rows],
            "summary": {"result": self.verdict.value, "reason": redact(self.reason),
                        **{r.value.lower(): self.count(r) for r in Result}},
        }


_HEADERS = ("Luồng / Stream", "Kiểm tra / Check", "Kết quả / Result", "Giá trị / Value",
            "Gợi ý / Hint")


def render_table(report: Report) -> str:
    cells = [_HEADERS] + [(r.stream, r.check.label, r.result.value, redact(r.value), redact(r.hint))
                          for r in report.rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(_HEADERS) - 1)]
    lines = [f"iocwall smoke {report.target}  ({report.started})"]
    for n, row in enumerate(cells):
        padded = [_pad(text, widths[i]) for i, text in enumerate(row[:-1])]
        lines.append("  ".join(padded + [row[-1]]).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths + [_width(_HEADERS[-1])]))
    lines.append(report.summary_line())
    return "\n".join(lines)


def render_json(report: Report) -> str:
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=2)


def _width(text: str) -> int:
    """Display width: combining marks take no column, wide (CJK) characters take two."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
