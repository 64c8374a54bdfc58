"""The concentrator's key file and per-meter state file (LMON, route), docs/concentrator.md.

Key file (JSON, read only; keep it private, e.g. chmod 600):
    {"default": {"key_write": "<32 hex>", "key_read": "<32 hex>"},
     "meters": {"4d4d00004201": {"key_write": "...", "key_read": "..."}}}
A meter's entry may also be given at the top level under its ACA ("4d4d00004201": {...}).
A meter's own entry wins over "default"; either may be missing.

State file (JSON, rewritten atomically after every exchange that moves a counter):
    {"version": 1, "meters": {"4d4d00004201": {"lmon": 17, "route": ["4d4d00004202"]}}}
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tools.smitp_ref import Keys


class KeyFileError(ValueError):
    pass


def _keys(entry, where):
    try:
        return Keys.from_hex(entry["key_write"], entry["key_read"])
    except (KeyError, TypeError, ValueError) as e:
        raise KeyFileError(f"{where}: needs key_write and key_read, 32 hex digits each ({e})")


def _is_hex(s):
    try:
        bytes.fromhex(s)
        return True
    except ValueError:
        return False


class KeyFile:
    def __init__(self, data: dict):
        if not isinstance(data, dict):
            raise KeyFileError("key file must be a JSON object")
        self.default = _keys(data["default"], "default") if "default" in data else None
        meters = dict(data.get("meters") or {})
        # a meter's entry may also sit at the top level, keyed by its 12-hex-digit ACA
        meters.update({k: v for k, v in data.items() if len(k) == 12 and _is_hex(k)})
        self.meters = {bytes.fromhex(aca): _keys(e, aca) for aca, e in meters.items()}

    @classmethod
    def load(cls, path) -> KeyFile:
        try:
            return cls(json.loads(Path(path).read_text()))
        except json.JSONDecodeError as e:
            raise KeyFileError(f"{path}: not JSON ({e})")

    @staticmethod
    def store(path, aca: bytes, keys: Keys):
        """Write a meter's (new) keys into the key file, keeping everything else; the file is
        replaced atomically and left readable by its owner only."""
        path = Path(path)
        data = json.loads(path.read_text()) if path.exists() else {}
        data.pop(bytes(aca).hex(), None)  # a top-level entry would shadow "meters"
        entry = {"key_write": keys.write.hex(), "key_read": keys.read.hex()}
        data.setdefault("meters", {})[bytes(aca).hex()] = entry
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    def for_meter(self, aca: bytes) -> Keys:
        k = self.meters.get(bytes(aca), self.default)
        if k is None:
            raise KeyFileError(f"no keys for meter {bytes(aca).hex()} and no default")
        return k


class State:
    """LMON and route per meter, persisted to a JSON file (or only in memory: path None)."""

    def __init__(self, path=None):
        self.path = Path(path) if path else None
        self.meters = {}
        if self.path and self.path.exists():
            data = json.loads(self.path.read_text())
            self.meters = dict(data.get("meters", {}))

    def _entry(self, aca: bytes) -> dict:
        return self.meters.setdefault(bytes(aca).hex(), {})

    def lmon(self, aca: bytes) -> int:
        return int(self.meters.get(bytes(aca).hex(), {}).get("lmon", 0))

    def set_lmon(self, aca: bytes, lmon: int):
        self._entry(aca)["lmon"] = int(lmon)
        self.save()

    def route(self, aca: bytes):
        r = self.meters.get(bytes(aca).hex(), {}).get("route")
        return None if r is None else [bytes.fromhex(x) for x in r]

    def set_route(self, aca: bytes, route):
        self._entry(aca)["route"] = [bytes(x).hex() for x in route]
        self.save()

    def save(self):
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"version": 1, "meters": self.meters}, indent=1))
        os.replace(tmp, self.path)
