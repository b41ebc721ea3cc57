"""monday's API versions as the emulator answers them."""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_API_VERSION = "2026-10"
_VERSION = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER_MONTHS = frozenset({"01", "04", "07", "10"})


@dataclass(frozen=True)
class ApiVersions:
    """monday's version lifecycle: one current, one maintenance, one release candidate (quarterly YYYY-MM).

    As documented: no API-Version header, `current` or an unknown well-formed version -> the current
    version; a deprecated version (older than maintenance) -> the maintenance version; `maintenance`,
    `release_candidate` -> those; a malformed value -> `InvalidVersionException`. The answering
    version goes back in the `API-Version` response header. The emulator has one schema for all.
    """

    current: str = DEFAULT_API_VERSION
    maintenance: str = "2026-07"
    release_candidate: str = "2027-01"

    def resolve(self, requested: str | None) -> str | None:
        """The version that answers `requested`; None when it is malformed."""
        value = (requested or "").strip()
        aliases = {
            "": self.current,
            "current": self.current,
            "maintenance": self.maintenance,
            "deprecated": self.maintenance,  # deprecated versions are served by maintenance
            "release_candidate": self.release_candidate,
            "dev": self.release_candidate,  # the emulator has no development version: a guess
        }
        if value in aliases:
            return aliases[value]
        match = _VERSION.match(value)
        if match is None:
            return None
        if value in (self.current, self.maintenance, self.release_candidate):
            return value
        if match.group(2) in _QUARTER_MONTHS and value < self.maintenance:
            return self.maintenance
        return self.current

    def describe(self) -> dict[str, str]:
        return {"current": self.current, "maintenance": self.maintenance, "release_candidate": self.release_candidate}
