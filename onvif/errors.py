"""Why talking to an ONVIF device failed: one clear line each, never a password.

Each error carries ``message`` (English), ``message_vi`` (Vietnamese) and ``hint`` (what to try),
so the smoke test and the registration portal can show the same words.
"""
from __future__ import annotations


class OnvifError(Exception):
    """Base class; ``str(err)`` is the one-line English message."""

    hint = "check the ONVIF address and try again"
    vi = "lỗi khi nói chuyện với thiết bị ONVIF"

    def __init__(self, message: str, hint: str | None = None, message_vi: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint or type(self).hint
        self.message_vi = message_vi or type(self).vi


class OnvifAuthError(OnvifError):
    hint = "check the user name and password configured for this camera"
    vi = "sai tên đăng nhập hoặc mật khẩu (thiết bị trả lời NotAuthorized)"

    def __init__(self) -> None:
        super().__init__("wrong user or password (the device answered NotAuthorized)")


class OnvifUnreachable(OnvifError):
    hint = "check the address and port, that the device is powered on, and the VPN/firewall path"
    vi = "không có dịch vụ nào trả lời tại địa chỉ này"

    def __init__(self, host: str, port: int, detail: str = "") -> None:
        extra = f" ({detail})" if detail else ""
        super().__init__(f"nothing listens on {host}:{port}{extra}")


class OnvifNotOnvif(OnvifError):
    hint = "check the port: it may be the web UI or RTSP port, ONVIF is often 80, 8000 or 8899"
    vi = "địa chỉ này có trả lời nhưng không phải thiết bị ONVIF"

    def __init__(self, host: str, port: int, detail: str = "") -> None:
        extra = f" ({detail})" if detail else ""
        super().__init__(f"{host}:{port} answers but is not an ONVIF device{extra}")


class OnvifTimeout(OnvifError):
    hint = "the link may be slow or a firewall drops packets; try again or raise the timeout"
    vi = "thiết bị không trả lời trong thời gian cho phép"

    def __init__(self, host: str, port: int, seconds: float, step: str = "") -> None:
        during = f" during {step}" if step else ""
        super().__init__(f"{host}:{port} did not answer within {seconds:g} s{during}")


class OnvifProtocolError(OnvifError):
    hint = "the device answered something unexpected; check its firmware or ONVIF settings"
    vi = "thiết bị trả lời sai giao thức ONVIF"

    def __init__(self, detail: str) -> None:
        super().__init__(f"ONVIF protocol error: {detail}")
