"""The config.toml of each controller and media node of the cluster demo.

Keys another branch adds ([cluster], [media_node]) are written only when this build's
config model knows them (``known``), so the demo runs on a build without them and uses
them as soon as they are there. No secret is written here: the session secret and the
admin password reach the controllers through their environment, the cluster secret is a
0600 file the config names.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def known(section: str, key: str | None = None) -> bool:
    """Does this build's config model have [section] (and ``key`` in it)?"""
    from iocwall.wall.config import Config
    field = Config.model_fields.get(section)
    if field is None:
        return False
    if key is None:
        return True
    model = field.annotation
    return key in getattr(model, "model_fields", {})


def toml(sections: Mapping[str, Mapping[str, Any]]) -> str:
    """A TOML text of flat sections (strings, numbers, booleans, lists of strings)."""
    out = []
    for name, values in sections.items():
        out.append(f"[{name}]")
        out += [f"{key} = {_value(value)}" for key, value in values.items()]
        out.append("")
    return "\n".join(out)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)    # a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def controller(folder: Path, port: int, *, public_url: str, store_url: str, redis_url: str,
               registry_key: Path, cluster: Mapping[str, Any]) -> Path:
    """One controller's config: the shared store and bus, the shared registry key, the
    proxy trusted, its media local (processes = 1) unless ``cluster`` says nodes."""
    data = folder / "data"
    sections: dict[str, dict[str, Any]] = {
        "server": {"host": "127.0.0.1", "port": port, "data_dir": str(data),
                   "public_url": public_url, "trusted_proxies": ["127.0.0.1"]},
        "storage": {"url": store_url},
        "bus": {"backend": "redis", "redis_url": redis_url, "prefix": "iocwall"},
        "registry": {"key_file": str(registry_key)},
        # two cores shared by everything: one media process per controller, and no
        # analytics worker (the demo's per-counter counting runs in `iocwall demo`)
        "streams": {"processes": 1},
        "analytics": {"enabled": False},
        "wall": {"demo_open_display": True},
        "indicators": {"demo_data": True},
    }
    wanted = {k: v for k, v in cluster.items() if known("cluster", k)}
    if wanted:
        sections["cluster"] = wanted
    path = folder / "config.toml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(toml(sections), encoding="utf-8")
    return path


def media_node(folder: Path, *, node_id: str, listen: str, cert: Path, key: Path,
               redis_url: str, secret_file: Path, ca_file: Path) -> Path:
    """One media node's config (`iocwall media-node --config PATH`, the nodes19 branch)."""
    sections: dict[str, dict[str, Any]] = {
        "media_node": {"id": node_id, "listen": listen, "advertise": listen,
                       "ice_addresses": ["127.0.0.1"], "cert_file": str(cert),
                       "key_file": str(key)},
        "cluster": {"secret_file": str(secret_file), "ca_file": str(ca_file)},
        "bus": {"backend": "redis", "redis_url": redis_url, "prefix": "iocwall"},
        "logging": {"file": str(folder / "logs" / "media-node.log")},
    }
    path = folder / "config.toml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(toml(sections), encoding="utf-8")
    return path
