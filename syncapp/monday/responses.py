"""Reading monday's answers: results by alias, errors in every era's shape, the retry and rate-limit
headers, and boards and items as the client returns them."""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Mapping

from syncapp.monday import documents
from syncapp.monday.types import BoardInfo, ColumnInfo, GroupInfo, Mutation, MutationResult


def results_by_key(chunk: list[Mutation], body: dict) -> dict[str, MutationResult]:
    data = body.get("data") or {}
    by_alias: dict[str, dict] = {}
    unplaced: list[dict] = []
    for error in normalise_errors(body):
        path = error.get("path") or []
        if path and isinstance(path[0], str) and path[0] not in by_alias:
            by_alias[path[0]] = error
        elif not path:
            unplaced.append(error)
    results: dict[str, MutationResult] = {}
    for index, mutation in enumerate(chunk):
        name = documents.alias(index)
        value, error = data.get(name), by_alias.get(name)
        if isinstance(value, dict) and value.get("id") is not None:
            # Applied; an error on a sub-field does not undo it, so reporting failure would invite a duplicate.
            message = error.get("message", "") if error else ""
            results[mutation.key] = MutationResult(mutation.key, True, value, message, error_code(error or {}))
            continue
        error = error or (unplaced[0] if unplaced else {"message": "monday returned no result for this mutation"})
        results[mutation.key] = MutationResult(
            mutation.key, False, None, str(error.get("message", "")), error_code(error) or "NoResult"
        )
    return results


def normalise_errors(body: dict | None) -> list[dict]:
    """monday's errors as dicts, whatever era of error format the response uses."""
    if not isinstance(body, dict):
        return []
    raw = body.get("errors") or []
    errors: list[dict] = []
    for entry in raw if isinstance(raw, list) else [raw]:
        if isinstance(entry, dict):
            errors.append(entry)
        else:
            errors.append({"message": str(entry), "extensions": {"code": body.get("error_code", "")}})
    if not errors and body.get("error_code"):
        extensions = {"code": body["error_code"], "error_data": body.get("error_data") or {}}
        errors.append({"message": body.get("error_message", ""), "extensions": extensions})
    return errors


def error_code(error: Mapping) -> str:
    extensions = error.get("extensions") or {}
    return str(extensions.get("code") or extensions.get("error_code") or error.get("error_code") or "")


def first_message(errors: list[dict]) -> str:
    return next((str(e.get("message")) for e in errors if e.get("message")), "")


def budget_exhausted(errors: list[dict]) -> bool:
    # Older API versions report an exhausted budget as ComplexityException with "budget exhausted" in the text.
    return any(
        error_code(e) == "ComplexityException" and "budget exhausted" in str(e.get("message", "")).lower()
        for e in errors
    )


def request_failed(body: dict, errors: list[dict]) -> bool:
    """True when errors concern the whole request (no data and no error tied to a field)."""
    return bool(errors) and body.get("data") is None and not any(e.get("path") for e in errors)


def retry_in(errors: list[dict], headers: Mapping[str, str]) -> float | None:
    for error in errors:
        extensions = error.get("extensions") or {}
        for source in (extensions, extensions.get("error_data") or {}, error.get("error_data") or {}):
            value = source.get("retry_in_seconds") if isinstance(source, Mapping) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
        match = re.search(r"reset in (\d+) seconds?", str(error.get("message", "")))
        if match:
            return float(match.group(1))
    return retry_after(headers)


def retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After") if headers else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def rate_limit_headers(headers: Mapping[str, str]) -> tuple[int | None, int | None, int | None]:
    """(remaining, reset seconds, limit) of the complexity policy in the RateLimit / RateLimit-Policy headers.

    monday sends several policies in one header (`minuteRate`, `concurrency`, `complexityMinute`);
    the complexity one is read, whatever its position. A header with one unnamed policy is read as it is.
    """
    if not headers:
        return None, None, None
    current = complexity_policy(headers.get("RateLimit", ""))
    policy = complexity_policy(headers.get("RateLimit-Policy", ""))
    return header_param(current, "r"), header_param(current, "t"), header_param(policy, "q")


def complexity_policy(value: str) -> str:
    policies = [part.strip() for part in re.split(r",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", value or "") if part.strip()]
    for policy in policies:
        name = policy.split(";", 1)[0].strip().strip('"').lower()
        if "complexity" in name:
            return policy
    if len(policies) == 1 and not policies[0].split(";", 1)[0].strip().strip('"'):
        return policies[0]
    return ""


def header_param(value: str, name: str) -> int | None:
    match = re.search(rf"(?:^|;)\s*{name}=(\d+)", value or "")
    return int(match.group(1)) if match else None


def applied_aliases(body: dict | None) -> bool:
    """True when a mutation answer holds at least one applied alias (a result with an id)."""
    data = (body or {}).get("data") if isinstance(body, dict) else None
    return isinstance(data, dict) and any(isinstance(v, dict) and v.get("id") is not None for v in data.values())


def alias_error_summary(errors: list[dict]) -> str:
    if not errors:
        return ""
    codes = sorted({error_code(e) or "error" for e in errors})
    return f"{len(errors)} error(s): {', '.join(codes)}; first: {first_message(errors)}"[:1000]


def json_object(text: str) -> dict | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def board_info(raw: dict) -> BoardInfo:
    columns: dict[str, ColumnInfo] = {}
    subitems_board_id: int | None = None
    for col in raw.get("columns") or []:
        settings = parse_json(col.get("settings")) or {}
        settings = settings if isinstance(settings, dict) else {}
        info = ColumnInfo(col["id"], col.get("title", ""), col.get("type", ""), settings, labels(settings))
        columns[info.id] = info
        board_ids = settings.get("boardIds") or []
        if col.get("type") == "subtasks" and board_ids:
            subitems_board_id = int(board_ids[0])
    groups = [GroupInfo(g["id"], g.get("title", "")) for g in raw.get("groups") or []]
    return BoardInfo(int(raw["id"]), raw.get("name", ""), columns, groups, subitems_board_id)


def labels(settings: dict) -> list[str]:
    """Active label texts from a status/dropdown column's settings (list or legacy id->label map)."""
    raw = settings.get("labels")
    if isinstance(raw, dict):
        ordered = sorted(raw.items(), key=lambda kv: int(kv[0]) if str(kv[0]).isdigit() else 10**9)
        return [str(label) for _, label in ordered if str(label)]
    labels: list[str] = []
    for entry in raw or []:
        if isinstance(entry, dict) and not entry.get("is_deactivated"):
            text = entry.get("label", entry.get("name"))
            if text:
                labels.append(str(text))
    return labels


def parse_json(value: object) -> object:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def column_values(raw: list[dict] | None) -> dict[str, dict]:
    values: dict[str, dict] = {}
    for cv in raw or []:
        values[cv["id"]] = {
            "id": cv["id"],
            "text": cv.get("text"),
            "value": parse_json(cv.get("value")),
            "type": cv.get("type"),
        }
    return values


def item(raw: dict) -> dict:
    return {
        "id": str(raw["id"]),
        "name": raw.get("name", ""),
        "state": raw.get("state"),
        "group_id": (raw.get("group") or {}).get("id"),
        "board_id": (raw.get("board") or {}).get("id"),
        "column_values": column_values(raw.get("column_values")),
        "subitems": [
            {
                "id": str(sub["id"]),
                "name": sub.get("name", ""),
                "state": sub.get("state"),
                "board_id": (sub.get("board") or {}).get("id"),
                "column_values": column_values(sub.get("column_values")),
            }
            for sub in raw.get("subitems") or []
            if sub
        ],
    }
