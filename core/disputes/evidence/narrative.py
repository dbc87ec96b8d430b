"""The dispute narrative: rendered from the reason's approved template, optionally rephrased.

    template_vars ─► render_narrative(): the template text, split into sentences
                  ─► free sentences (argument wording, no facts) the model may rephrase;
                     locked sentences (facts, amounts, dates, ids, names, policy texts, and the
                     whole transaction / customer / history section) that must survive verbatim
                  ─► rephrase(): core.adapters.draft_guard's guarded rewrite, given a dispute
                     check too (no concession, no new offer); any failure keeps the template

The outcome is recorded as a small dict (`NarrativeMeta`) on the stored packet: source, guard
verdict, model, tokens, cost and the inputs hash. The same inputs never go to the model twice:
an earlier outcome for the same hash is reused, and a rephrasing that passed the guard is kept
for as long as its inputs (template, facts) stay the same.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from core.adapters.draft_guard import RewriteModel, guarded_rewrite, split_sentences
from core.adapters.guard_text import normalise

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TONE = "formal and factual, written for the card network's dispute reviewer"
GUARD_PASSED = "ai rewrite passed the guard"
_env = Environment(
    loader=FileSystemLoader(str(TEMPLATE_DIR)),
    undefined=StrictUndefined,
    autoescape=select_autoescape(default=False),
    trim_blocks=True,
    keep_trailing_newline=False,
    auto_reload=False,  # the approved templates ship with the code: no stat of each per render
)
_DIGIT = re.compile(r"\d")
# A narrative argues the merchant's case: a rephrasing must never concede it or offer anything.
_CONCESSION = re.compile(
    r"\b(?:accept(?:s|ed|ing)? the (?:dispute|chargeback)|concede\w*|withdraw\w*|"
    r"apologi\w*|our (?:mistake|error|fault)|(?:we|i) agree|in error|by mistake|"
    r"(?:will|shall|can|could|would|happy to|agree to|offer to)\s+(?:\w+\s+){0,3}?"
    r"(?:refund|credit|reimburse|waive|cancel|accept|return)\w*)\b",
    re.IGNORECASE,
)

NarrativeMeta = dict[str, Any]


def load_templates() -> None:
    """Compile every narrative template now (a worker does this as it starts, not while it
    handles its first dispute)."""
    for path in sorted(TEMPLATE_DIR.glob("*.j2")):
        _env.get_template(path.name)


@functools.cache
def template_for(reason: str) -> tuple[str, str]:
    """(template file, version) for a reason: its newest approved version, else the general one
    (the templates ship with the code: the folder is read once per reason and process)."""

    def newest(name: str) -> str | None:
        found = sorted(
            TEMPLATE_DIR.glob(f"{name}.v*.j2"), key=lambda p: int(p.name.split(".v")[1][:-3])
        )
        return found[-1].name if found else None

    file = newest(reason) or newest("general")
    assert file is not None, "the general dispute template is missing"
    return file, "v" + file.split(".v")[1][:-3]


@dataclass(frozen=True)
class Narrative:
    """A rendered narrative: its text and which sentences of its argument may be rephrased."""

    template_id: str
    template_version: str
    text: str
    body_lines: tuple[str, ...]  # the argument (the template's `body` block), line by line
    rest: str  # everything after the argument: facts only, always locked
    free: tuple[tuple[str, int, int, int], ...]  # (part name, line, start, end)
    locked_sentences: tuple[str, ...]

    @property
    def free_parts(self) -> dict[str, str]:
        """The free sentences by part name."""
        return {name: self.body_lines[ln][a:b] for name, ln, a, b in self.free}

    def with_free_parts(self, replacement: Mapping[str, str]) -> str:
        """The narrative text with some free sentences replaced (locked text untouched)."""
        lines = list(self.body_lines)
        for name, ln, a, b in sorted(self.free, key=lambda f: (f[1], -f[2])):
            if name in replacement:
                lines[ln] = lines[ln][:a] + replacement[name].strip() + lines[ln][b:]
        return "\n".join(lines) + self.rest


def _fact_strings(facts: Mapping[str, Any]) -> list[str]:
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for v in value.values():
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)
        elif isinstance(value, str | int) and not isinstance(value, bool):
            text = str(value).strip()
            if len(text) >= 2:
                out.append(text)

    walk(facts)
    return out


def _is_locked(sentence: str, facts: list[str], fact_sentences: list[str]) -> bool:
    # Anything with a digit (amount, date, count, id, address) or with a fact or policy text in
    # it is locked: the model only ever sees the argument's plain wording.
    if _DIGIT.search(sentence):
        return True
    low = sentence.lower()
    if any(f.lower() in low for f in facts):
        return True
    return any(s.lower() in low or low in s.lower() for s in fact_sentences)


def render_narrative(reason: str, facts: Mapping[str, Any]) -> Narrative:
    """Render the reason's approved template with its facts and mark the free sentences."""
    file, version = template_for(reason)
    tpl = _env.get_template(file)
    text = re.sub(r"\n{3,}", "\n\n", tpl.render(**facts).strip())
    body = "".join(tpl.blocks["body"](tpl.new_context(dict(facts)))).strip()
    template_id = f"disputes/{file.split('.v')[0]}"
    if not body or not text.startswith(body):
        # An unexpected layout: nothing is free, the whole text stays as written.
        return Narrative(template_id, version, text, (), text, (), _lines(text))
    lines = tuple(body.split("\n"))
    rest = text[len(body) :]
    fact_values = _fact_strings(facts)
    fact_sentences = [s for f in fact_values if " " in f for s in split_sentences(f)]
    free: list[tuple[str, int, int, int]] = []
    locked: list[str] = []
    for ln, line in enumerate(lines):
        pos = 0
        for sentence in split_sentences(line):
            start = line.index(sentence, pos)
            pos = start + len(sentence)
            if _is_locked(sentence, fact_values, fact_sentences):
                locked.append(sentence)
            else:
                free.append((f"free_{len(free) + 1}", ln, start, pos))
    return Narrative(
        template_id, version, text, lines, rest, tuple(free), tuple(locked) + _lines(rest)
    )


def _lines(text: str) -> tuple[str, ...]:
    return tuple(ln.strip() for ln in text.split("\n") if ln.strip())


def inputs_hash(
    case_key: str, narrative: Narrative, facts: Mapping[str, Any], model: str | None
) -> str:
    """A stable hash of everything a narrative is made from: same inputs, no second generation."""
    payload = {
        "case": case_key,
        "template": narrative.template_id,
        "version": narrative.template_version,
        "facts": {k: facts[k] for k in sorted(facts)},
        "free": narrative.free_parts,
        "model": model,
    }
    raw = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def template_meta(narrative: Narrative, guard: str = "template") -> NarrativeMeta:
    """The record of a narrative that is the plain template."""
    return {
        "source": "template",
        "template": f"{narrative.template_id}@{narrative.template_version}",
        "guard": guard,
        "model": None,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cost_micro_usd": 0,
        "inputs_hash": None,
    }


def _concessions(original: Mapping[str, str], parts: Mapping[str, str]) -> list[str]:
    """The guard's dispute check: a rephrasing that concedes the case or offers anything."""
    base = normalise(" ".join(original.values())).lower()
    found = {
        m.group(0).lower()
        for text in parts.values()
        for m in _CONCESSION.finditer(normalise(str(text)))
    }
    new = sorted(p for p in found if p not in base)
    return [f"concedes or offers: {', '.join(new)}"] if new else []


def _reuse(
    narrative: Narrative, meta: NarrativeMeta, version: int | None
) -> tuple[str, NarrativeMeta]:
    parts = meta.get("parts")
    reused = {**meta, "prompt_tokens": 0, "completion_tokens": 0, "cost_micro_usd": 0}
    reused["reused_from_version"] = meta.get("reused_from_version") or version
    if (
        meta.get("source") == "ai"
        and isinstance(parts, Mapping)
        and set(parts) == set(narrative.free_parts)
    ):
        return narrative.with_free_parts(parts), reused
    return narrative.text, reused


def rephrase(
    llm: RewriteModel | None,
    narrative: Narrative,
    facts: Mapping[str, Any],
    *,
    case_key: str,
    reason: str,
    previous: Iterable[tuple[int, NarrativeMeta]] = (),
) -> tuple[str, NarrativeMeta]:
    """The narrative text to use and its record; `previous` = (packet version, meta), newest first.

    Without a model, an earlier rephrasing of exactly these inputs is kept (no call is made);
    with one, an earlier outcome for the same inputs hash is reused, else the model is asked once.
    """
    history = [(v, m) for v, m in previous if isinstance(m, Mapping)]
    if llm is None:
        for version, meta in history:
            if meta.get("source") == "ai" and meta.get("inputs_hash") == inputs_hash(
                case_key, narrative, facts, meta.get("model")
            ):
                return _reuse(narrative, meta, version)
        return narrative.text, template_meta(narrative)
    digest = inputs_hash(case_key, narrative, facts, llm.model)
    for version, meta in history:
        if meta.get("inputs_hash") == digest:
            return _reuse(narrative, meta, version)
    if not narrative.free:
        meta = template_meta(narrative, "template (nothing in this narrative may be rephrased)")
        return narrative.text, meta | {"inputs_hash": digest}
    facts_text = _fact_strings(facts)
    outcome = guarded_rewrite(
        llm,
        tone=TONE,
        free_parts=narrative.free_parts,
        locked_sentences=list(narrative.locked_sentences),
        allowed_facts=facts_text,
        # Only the dispute reason: never names, ticket subjects, card or payment details.
        data={"dispute_reason": reason},
        assemble=narrative.with_free_parts,
        extra_check=_concessions,
    )
    meta = template_meta(narrative, outcome.verdict) | {
        "model": outcome.model,
        "prompt_tokens": outcome.prompt_tokens,
        "completion_tokens": outcome.completion_tokens,
        "cost_micro_usd": outcome.cost_micro_usd,
        "inputs_hash": digest,
    }
    if outcome.parts is None:
        return narrative.text, meta
    meta |= {"source": "ai", "parts": dict(outcome.parts)}
    return narrative.with_free_parts(outcome.parts), meta


def over_budget(meta: NarrativeMeta) -> NarrativeMeta:
    """The record when a rephrasing would have to be cut to fit Stripe's text limits."""
    out = {k: v for k, v in meta.items() if k != "parts"}
    guard = (
        "template (the rephrasing would not fit Stripe's limits: 20,000 characters per field, "
        "150,000 in all)"
    )
    return out | {"source": "template", "guard": guard}


def describe(meta: Mapping[str, Any] | None) -> str:
    """One line for the page: template, or an AI rephrasing that passed the guard, or why not."""
    if not meta:
        return "Narrative: approved template."
    template = meta.get("template") or "template"
    if meta.get("source") == "ai":
        cost = int(meta.get("cost_micro_usd") or 0) / 1_000_000
        usage = (
            f"reused from packet v{meta['reused_from_version']}"
            if meta.get("reused_from_version")
            else f"{meta.get('prompt_tokens', 0)}+{meta.get('completion_tokens', 0)} tokens, ${cost:.6f}"
        )
        return (
            f"Narrative: AI rephrasing of {template} by {meta.get('model')}, passed the guard "
            f"(facts and policy texts verbatim; {usage})."
        )
    guard = str(meta.get("guard") or "template")
    if guard == "template":
        return f"Narrative: approved template {template}."
    why = guard.removeprefix("template").strip(" ()") or "unknown"
    return f"Narrative: approved template {template} — the AI rephrasing fell back: {why}."
