"""SOAP 1.2 for the simulated ONVIF device: parse requests safely, write replies and faults.

Requests come from the network, so parsing refuses DTDs and entities outright (SOAP 1.2 forbids
a document type declaration anyway): billion-laughs and XXE payloads become a Sender fault
before any entity is expanded or any file is read. Size is capped by the HTTP layer.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

ENV = "http://www.w3.org/2003/05/soap-envelope"
SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TER = "http://www.onvif.org/ver10/error"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TRT = "http://www.onvif.org/ver10/media/wsdl"
TT = "http://www.onvif.org/ver10/schema"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"

NSMAP = {"env": ENV, "ter": TER, "tds": TDS, "trt": TRT, "tt": TT}
_XMLNS = " ".join(f'xmlns:{p}="{u}"' for p, u in NSMAP.items())


class SoapFault(Exception):
    """A fault to send back. ``code`` is Sender/Receiver/VersionMismatch; ``subcodes`` are
    ONVIF ``ter:`` local names, outermost first (e.g. ["InvalidArgVal", "NoProfile"])."""

    def __init__(self, code: str, subcodes: list[str], reason: str, http_status: int = 400):
        super().__init__(reason)
        self.code, self.subcodes, self.reason = code, subcodes, reason
        self.http_status = http_status


def not_authorized() -> SoapFault:
    return SoapFault("Sender", ["NotAuthorized"], "Sender not Authorized", 400)


def malformed(reason: str) -> SoapFault:
    return SoapFault("Sender", ["WellFormed"], reason, 400)


def action_not_supported(name: str) -> SoapFault:
    # ONVIF Core: an unknown operation is env:Receiver / ter:ActionNotSupported.
    return SoapFault("Receiver", ["ActionNotSupported"],
                     f"Optional Action Not Implemented: {name[:80]}", 500)


def invalid_arg(subcode: str, reason: str) -> SoapFault:
    return SoapFault("Sender", ["InvalidArgVal", subcode], reason, 400)


@dataclass
class SoapRequest:
    header: Element | None
    operation: Element  # the first child of Body
    namespace: str
    name: str

    def text(self, path: str, default: str = "") -> str:
        """Text of a descendant of the operation, ``path`` using ``ns:Local`` steps."""
        for prefix, uri in NSMAP.items():
            path = path.replace(f"{prefix}:", f"{{{uri}}}")
        value = self.operation.findtext(path)
        return value.strip() if value is not None else default


def parse_request(body: bytes) -> SoapRequest:
    """Parse a SOAP 1.2 request or raise ``SoapFault``; never expands entities."""
    if not body.strip():
        raise malformed("empty request body")
    try:
        root = SafeET.parse(io.BytesIO(body), forbid_dtd=True).getroot()
    except DefusedXmlException:
        raise malformed("DTDs and entities are not allowed in SOAP messages") from None
    except (ParseError, ValueError, UnicodeError) as exc:
        raise malformed(f"XML not well-formed: {str(exc)[:80]}") from None
    if root.tag == f"{{{SOAP11_ENV}}}Envelope":
        raise SoapFault("VersionMismatch", [], "SOAP 1.1 envelope: this device speaks SOAP 1.2")
    if root.tag != f"{{{ENV}}}Envelope":
        raise SoapFault("VersionMismatch", [], "the root element is not a SOAP 1.2 Envelope")
    body_el = root.find(f"{{{ENV}}}Body")
    if body_el is None or len(body_el) == 0:
        raise malformed("the SOAP Body is missing or empty")
    operation = body_el[0]
    namespace, _, name = operation.tag[1:].partition("}") if operation.tag.startswith("{") \
        else ("", "", operation.tag)
    return SoapRequest(root.find(f"{{{ENV}}}Header"), operation, namespace, name)


def envelope(body_xml: str) -> bytes:
    """Wrap response body XML (which may use the env/ter/tds/trt/tt prefixes)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<env:Envelope {_XMLNS}><env:Body>{body_xml}</env:Body></env:Envelope>"
    ).encode()


def fault_body(fault: SoapFault) -> bytes:
    return envelope(
        "<env:Fault><env:Code>"
        f"<env:Value>env:{fault.code}</env:Value>{_subcodes(fault.subcodes)}"
        "</env:Code><env:Reason>"
        f'<env:Text xml:lang="en">{escape(fault.reason)}</env:Text>'
        "</env:Reason></env:Fault>"
    )


def _subcodes(names: list[str]) -> str:
    if not names:
        return ""
    return (f"<env:Subcode><env:Value>ter:{names[0]}</env:Value>"
            f"{_subcodes(names[1:])}</env:Subcode>")


def x(value: object) -> str:
    """Escape a value for element text or a double-quoted attribute."""
    return escape(str(value), {'"': "&quot;"})
