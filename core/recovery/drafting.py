"""Drafts from approved, versioned Jinja2 templates (pure: facts in, text out).

A template file is `core/recovery/templates/<bucket>.<channel>[.<tone>].v<N>.j2`; the highest
version wins, a tone-specific file wins over the generic one, and `default.<channel>` is the
fallback. Each file defines blocks in reading order:

    subject          the subject line (email) or title (task)
    free_*           wording that optional AI personalisation may rephrase
    locked_*         policy wording, amounts and links that must appear verbatim

The body is the blocks other than `subject`, in file order, separated by blank lines.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from core.adapters.draft_guard import split_sentences

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
CHANNELS = ("email", "chat", "task")
TONES = ("friendly", "formal", "neutral")
_NAME_RE = re.compile(r"^(?P<stem>[a-z_]+\.[a-z]+(?:\.[a-z_]+)?)\.v(?P<version>\d+)\.j2$")

_env = Environment(
    loader=FileSystemLoader(str(TEMPLATE_DIR)),
    undefined=StrictUndefined,
    autoescape=False,  # plain-text messages; customer text is data, never markup
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
    auto_reload=False,  # versioned files: a new wording is a new file and a restart
)
# Tone macros (greeting, sign-off) shared by every template as `t.greeting(tone, name)`.
_env.globals["t"] = _env.get_template("_tone.j2").module


@dataclass(frozen=True)
class TemplateRef:
    """Which template file a draft came from."""

    template_id: str  # e.g. "recovery/card_data.email"
    version: str  # e.g. "v2"
    filename: str


@dataclass(frozen=True)
class Draft:
    """A rendered draft: the parts and the assembled text."""

    ref: TemplateRef
    channel: str
    tone: str
    subject: str
    parts: tuple[tuple[str, str], ...]  # (block name, text) in reading order

    @property
    def body(self) -> str:
        """The message body: every part, blank-line separated."""
        return "\n\n".join(text for _name, text in self.parts if text)

    @property
    def free_parts(self) -> dict[str, str]:
        """Parts AI personalisation may rephrase."""
        return {n: t for n, t in self.parts if n.startswith("free_")}

    @property
    def locked_sentences(self) -> list[str]:
        """Sentences that must survive any rewrite word for word."""
        out: list[str] = []
        for name, text in self.parts:
            if name.startswith("locked_"):
                out.extend(split_sentences(text))
        return out

    def with_free_parts(self, replacement: Mapping[str, str]) -> Draft:
        """The same draft with some free parts replaced (locked parts untouched)."""
        parts = tuple(
            (n, replacement.get(n, t) if n.startswith("free_") else t) for n, t in self.parts
        )
        return Draft(self.ref, self.channel, self.tone, self.subject, parts)


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, tuple[int, str]]:
    """stem → (highest version, filename)."""
    found: dict[str, tuple[int, str]] = {}
    for path in TEMPLATE_DIR.glob("*.j2"):
        m = _NAME_RE.match(path.name)
        if not m:
            continue
        stem, version = m.group("stem"), int(m.group("version"))
        if stem not in found or version > found[stem][0]:
            found[stem] = (version, path.name)
    return found


def resolve(bucket: str, channel: str, tone: str) -> TemplateRef:
    """The template for bucket × channel × tone (tone file, then generic, then default)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}")
    cat = _catalogue()
    for stem in (
        f"{bucket}.{channel}.{tone}",
        f"{bucket}.{channel}",
        f"default.{channel}",
    ):
        if stem in cat:
            version, filename = cat[stem]
            return TemplateRef(f"recovery/{stem}", f"v{version}", filename)
    raise LookupError(f"no template for {bucket}.{channel} and no default.{channel}")


@lru_cache(maxsize=256)
def _template(filename: str) -> Template:
    return _env.get_template(filename)


def _clean(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def render(bucket: str, channel: str, tone: str, facts: Mapping[str, Any]) -> Draft:
    """Render the approved template for this case with its facts."""
    ref = resolve(bucket, channel, tone)
    tpl = _template(ref.filename)
    ctx = tpl.new_context({**facts, "tone": tone, "channel": channel})
    subject = ""
    parts: list[tuple[str, str]] = []
    for name, block in tpl.blocks.items():
        text = _clean("".join(block(ctx)))
        if name == "subject":
            subject = " ".join(text.split())
        elif name.startswith(("free_", "locked_")):
            parts.append((name, text))
    return Draft(ref, channel, tone, subject, tuple(parts))


def describe_guard(guard: str | None, model: str | None) -> tuple[bool, str]:
    """(fell back, one line for the draft view): where the wording came from and, when an AI
    rewrite was not used, why. The reason may quote the model's text: show it as plain text."""
    verdict = (guard or "template").strip()
    if verdict == "template":
        return False, "Approved template."
    if verdict.startswith("template"):
        why = verdict.removeprefix("template").strip(" ()") or "no reason recorded"
        return True, f"AI rewrite not used; the approved template is kept. Why: {why}"
    return False, f"AI rewrite by {model or 'the model'}: {verdict} (locked sentences verbatim)."


def inputs_hash(
    *,
    case_key: str,
    attempt: int,
    draft: Draft,
    facts: Mapping[str, Any],
    model: str | None,
) -> str:
    """A stable hash of everything a draft is made from: same inputs, same draft, no redo."""
    payload = {
        "case": case_key,
        "attempt": attempt,
        "template": draft.ref.template_id,
        "version": draft.ref.version,
        "channel": draft.channel,
        "tone": draft.tone,
        "facts": {k: facts[k] for k in sorted(facts)},
        "model": model,
    }
    raw = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()
