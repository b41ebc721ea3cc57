"""Runbook files: reading the Markdown files in docs/runbooks/ and rendering them safely.

The file convention (docs/runbooks/README.md says the same for authors):

* the file is `NN-some-name.md`; its slug is the name without `.md`;
* the first line is `# Title`; the text up to the first step is the introduction;
* a step is a level-2 heading `## N. What to do`, numbered 1, 2, 3, ... in order; its text runs to the
  next level-2 heading;
* a level-2 heading without a number after the steps starts the closing notes (no more steps after it);
* inside a step, a line `check: NAME key=value ...` adds a live check (syncapp/runbooks/checks.py) and a
  line `action: NAME key=value ...` a link or button into the console (syncapp/runbooks/actions.py).
  Values with spaces are quoted: `customer="TITLE NINE"`. These lines are not shown as text.

This module reads the convention; whether each check and action exists and takes the parameters given
is syncapp/runbooks/validate.py's business (it knows the checks and actions; this module does not).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from xml.etree.ElementTree import Element

import markdown
from django.conf import settings
from markdown.treeprocessors import Treeprocessor

RUNBOOK_FILE = re.compile(r"^(?P<number>\d{2})-[0-9a-z-]+\.md$")
STEP_HEADING = re.compile(r"^##\s+(?P<number>\d+)\.\s+(?P<title>\S.*?)\s*#*\s*$")
H2 = re.compile(r"^##\s+(?P<title>\S.*?)\s*#*\s*$")
TITLE = re.compile(r"^#\s+(?P<title>\S.*?)\s*#*\s*$")
DIRECTIVE = re.compile(r"^(?P<kind>check|action):\s*(?P<body>.*?)\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
SAFE_SCHEMES = {"", "http", "https", "mailto"}


def runbooks_dir() -> Path:
    return Path(settings.BASE_DIR) / "docs" / "runbooks"


class RunbookError(ValueError):
    """A runbook file does not follow the convention; the message names the file and line."""


@dataclass(frozen=True)
class Directive:
    kind: str  # "check" or "action"
    name: str
    params: dict[str, str]
    line: int


@dataclass
class Step:
    number: int
    title: str
    body: str  # Markdown, without the directive lines
    checks: list[Directive] = field(default_factory=list)
    actions: list[Directive] = field(default_factory=list)
    line: int = 0


@dataclass
class Runbook:
    slug: str
    number: int
    title: str
    intro: str
    steps: list[Step]
    notes: str = ""
    source: str = ""

    @property
    def summary(self) -> str:
        """The introduction's first paragraph, as plain text (for the list page)."""
        for paragraph in re.split(r"\n\s*\n", self.intro.strip()):
            if paragraph.strip() and not paragraph.lstrip().startswith(("#", "-", "*", ">", "|", "```")):
                text = " ".join(line.strip() for line in paragraph.splitlines())
                return re.sub(r"[*_`]", "", re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text))
        return ""

    @property
    def directives(self) -> list[Directive]:
        return [d for step in self.steps for d in (*step.checks, *step.actions)]

    def step(self, number: int) -> Step | None:
        return self.steps[number - 1] if 1 <= number <= len(self.steps) else None


# --- parsing -------------------------------------------------------------------------------------------


def _directive(kind: str, body: str, where: str, line: int) -> Directive:
    try:
        words = shlex.split(body)
    except ValueError as error:
        raise RunbookError(f"{where} line {line}: cannot read '{kind}: {body}' ({error})") from None
    if not words:
        raise RunbookError(f"{where} line {line}: '{kind}:' needs a name, e.g. '{kind}: pending_rows po=4755'")
    name, params = words[0], {}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise RunbookError(f"{where} line {line}: {word!r} is not key=value")
        if key in params:
            raise RunbookError(f"{where} line {line}: {key}= is given twice")
        params[key] = value
    return Directive(kind, name, params, line)


def parse_runbook(text: str, slug: str) -> Runbook:
    """Read one runbook; RunbookError names the line that breaks the convention. The check and action
    names are not looked up here: see validate.runbook_validate."""
    match = re.match(r"^(\d+)-", slug)
    where = f"docs/runbooks/{slug}.md"
    lines = text.splitlines()
    title_index = next((i for i, line in enumerate(lines) if line.strip()), None)
    title = TITLE.match(lines[title_index]) if title_index is not None else None
    if title is None:
        raise RunbookError(f"{where}: the first line must be the title, '# Title'")
    intro: list[str] = []
    notes: list[str] = []
    steps: list[Step] = []
    body: list[str] = []
    section = "intro"
    in_fence = False
    for index, line in enumerate(lines[title_index + 1 :], start=title_index + 2):
        if FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else STEP_HEADING.match(line)
        if heading:
            if section == "notes":
                raise RunbookError(f"{where} line {index}: step {heading['number']} comes after the closing notes")
            number = int(heading["number"])
            if number != len(steps) + 1:
                raise RunbookError(f"{where} line {index}: step {number} should be step {len(steps) + 1}")
            if steps:
                steps[-1].body = "\n".join(body).strip()
            body = []
            steps.append(Step(number, heading["title"], "", line=index))
            section = "step"
            continue
        if not in_fence and section == "step" and H2.match(line):
            steps[-1].body = "\n".join(body).strip()
            body = []
            section = "notes"
        directive = None if in_fence else DIRECTIVE.match(line)
        if directive:
            if section != "step":
                raise RunbookError(f"{where} line {index}: '{directive['kind']}:' lines belong inside a numbered step")
            parsed = _directive(directive["kind"], directive["body"], where, index)
            (steps[-1].checks if parsed.kind == "check" else steps[-1].actions).append(parsed)
            continue
        {"intro": intro, "step": body, "notes": notes}[section].append(line)
    if in_fence:
        raise RunbookError(f"{where}: a code block is not closed")
    if section == "step":
        steps[-1].body = "\n".join(body).strip()
    if not steps:
        raise RunbookError(f"{where}: no numbered steps ('## 1. First thing to do')")
    return Runbook(
        slug=slug,
        number=int(match.group(1)) if match else 0,
        title=title["title"],
        intro="\n".join(intro).strip(),
        steps=steps,
        notes="\n".join(notes).strip(),
        source=text,
    )


@lru_cache(maxsize=64)
def _parsed(path: str, mtime_ns: int) -> Runbook:
    return parse_runbook(Path(path).read_text(encoding="utf-8"), Path(path).stem)


def runbook_paths() -> list[Path]:
    folder = runbooks_dir()
    return sorted(p for p in folder.glob("*.md") if RUNBOOK_FILE.match(p.name)) if folder.is_dir() else []


def runbook_load(slug: str) -> Runbook | None:
    """The runbook `slug` (e.g. "02-test-a-po-on-development") as written, re-read when its file changes.
    The console reads runbooks through validate.runbook_get, which also checks the directives."""
    path = runbooks_dir() / f"{slug}.md"
    if not RUNBOOK_FILE.match(path.name) or not path.is_file():
        return None
    return _parsed(str(path), path.stat().st_mtime_ns)


# --- Markdown --------------------------------------------------------------------------------------------


class _SafeLinks(Treeprocessor):
    """Links and images may point only at http(s), mailto or this site: no javascript: or data: URLs."""

    def run(self, root: Element) -> None:
        for element in root.iter():
            for attribute in ("href", "src"):
                value = element.get(attribute)
                if value is None:
                    continue
                compact = re.sub(r"[\x00-\x20]", "", value)
                scheme = compact.split(":", 1)[0].lower() if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", compact) else ""
                if scheme not in SAFE_SCHEMES:
                    del element.attrib[attribute]
            if element.tag == "a" and (element.get("href") or "").startswith(("http://", "https://")):
                element.set("rel", "noopener")


def render_markdown(text: str) -> str:
    """Markdown to HTML with raw HTML switched off: tags in the text are shown as text, never run."""
    md = markdown.Markdown(extensions=["fenced_code", "tables", "sane_lists"], output_format="html")
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    md.treeprocessors.register(_SafeLinks(md), "safe_links", 0)
    return md.convert(text)
