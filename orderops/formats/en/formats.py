"""The console's one date format, also used by the Django admin (settings.FORMAT_MODULE_PATH).

Month, day, year, 24-hour time and the zone's abbreviation ("Jul 3, 2026 14:05 PDT"): ops read
times next to the board's and the worker's logs, so a time without its zone or year is a guess.
The console's templates use the `when` filter (syncapp/templatetags/console.py) with the same format.
"""

from __future__ import annotations

DATETIME_FORMAT = "M j, Y H:i T"
SHORT_DATETIME_FORMAT = "M j, Y H:i T"
DATE_FORMAT = "M j, Y"
SHORT_DATE_FORMAT = "M j, Y"
TIME_FORMAT = "H:i"
