"""Claim flags: a transparent detector for promotional claims in quoted sentences.

Every rule is a named class with the plain patterns that trigger it, so a flag can say
exactly which words raised it. The classes follow the tip-offs for promotional health
claims: hype words (Abola & Prasad, JAMA Oncology 2015), speed and certainty promises,
efficacy numbers and comparisons given without a study, safety absolutes, testimonials, one
treatment for many conditions (FDA "health fraud" tip-offs), and the exaggeration kinds
found in press releases (Sumner et al., BMJ 2014).

A flag describes the wording of a source; it never says whether the claim is true.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np

from .chunk import ends_sentence
from .types import Flag

# A hedge just before a causal verb makes it a hypothesis, not a promise ("may help reverse").
_HEDGED = re.compile(r"\b(?:may|might|could|potentially|appears to|seems to)\s+$", re.IGNORECASE)


@dataclass(frozen=True)
class Rule:
    kind: str  # the class, e.g. "speed"
    claim: str  # what the sources are said to claim, for counting agreement ("" = not counted)
    pattern: re.Pattern
    unless_hedged: bool = False  # ignore a match right after "may", "could", ...


def _rules(kind: str, table: list[tuple], unless_hedged: bool = False) -> list[Rule]:
    return [Rule(kind, claim, re.compile(p, re.IGNORECASE), unless_hedged) for claim, p in table]


LABELS = {
    "hype": "hype word",
    "speed": "speed or certainty promise",
    "efficacy": "efficacy claim, no study cited",
    "safety": "safety reassurance",
    "testimonial": "testimonial",
    "many_conditions": "one treatment, many conditions",
    "exaggeration": "press-release exaggeration",
}

DESCRIPTIONS = {
    "hype": "Superlatives and hype words, such as “breakthrough” or “revolutionary”.",
    "speed": "Promises of speed or certainty, such as “within hours” or “immediate”.",
    "efficacy": "Efficacy numbers, comparisons or study claims given without a study to check.",
    "safety": "Safety absolutes, such as “minimal side effects” or “well-tolerated”.",
    "testimonial": "Testimonials and anecdotes, such as “patients report”.",
    "many_conditions": "One treatment offered for many different conditions.",
    "exaggeration": "Advice to readers, or a cause stated as certain.",
}

# a time when side effects fade is not a promise of relief ("effects that fade within an hour")
_NOT_FADING = r"(?<!fade )(?<!fades )(?<!subside )(?<!subsides )(?<!wear off )(?<!wears off )"

RULES: tuple[Rule, ...] = tuple(
    _rules("hype", [
        ("", r"\bbreakthrough\b(?!\s+therapy\s+designation)"),
        ("", r"(?<!['‘“\"])\b(?:groundbreaking|ground-breaking|revolutionary|transformative|miraculous|miracle|unparalleled"
             r"|unprecedented|remarkable|extraordinary|life[- ]?changing|life[- ]?saving|lifesaver|lifeline"
             r"|game[- ]changer|game[- ]changing|cutting[- ]edge|renowned|world[- ]class|amazing|incredible"
             r"|ultimate|best[- ]kept secret|astonishing|astounding|stunning|next[- ]generation|state[- ]of[- ]the[- ]art"
             r"|powerhouse|nothing short of|most advanced|most important advance|profound)\b"),
        ("", r"\b(?:gives?|given|gave) (?:\w+ ){0,3}(?:their|your|them their) (?:lives?|life) back\b|\btransforms\b"),
        ("", r"\bpowerful\s+(?:alternative|antidepressant|treatment|therap\w+|effects?|propert\w+|tool|option)"),
        ("", r"\bnew era\b"),
        ("", r"\bchang(?:ing|es) lives\b"),
    ])
    + _rules("speed", [
        ("relief within an hour", r"\b" + _NOT_FADING + r"within (?:just |only )?(?:1|one|an) hour\b|\b" + _NOT_FADING
                                  + r"within (?:just )?minutes\b|\bin under (?:an hour|\d+ minutes)\b"),
        ("relief within hours", r"\b" + _NOT_FADING + r"(?:with)?in (?:just |only )?(?:a few |several |24 |twenty[- ]four )?hours\b"),
        ("relief within days", r"\b" + _NOT_FADING + r"within (?:hours or )?days\b|\b" + _NOT_FADING
                               + r"within (?:a|one|two|\d+) (?:days?|weeks?)\b"
                               + r"|\bin (?:just|only) (?:\d+|two|three|four|five|six|seven|a few) days\b"),
        ("immediate relief", r"\b(?:immediate(?:ly)?|instant(?:ly|aneous)?|overnight)\b"
                             r"|\bafter (?:just |only )?(?:one|a single|1|their (?:very )?first|the first)"
                             r" (?:session|infusion|treatment|visit|dose)\b|\bin record time\b"
                             r"|\bfrom the (?:very )?first (?:session|infusion|treatment|visit|dose)\b"
                             r"|\b(?:a single|one) (?:session|infusion|treatment|dose|ceremony|visit|shot|injection)"
                             r"(?: \w+){0,6} (?:delivers|brings|gives|can accomplish)\b"
                             r"|\bin as little as\b|\bby (?:dinnertime|tonight|tomorrow)\b"
                             r"|\bbefore they (?:leave|get home|walk out)\b"),
        ("relief within hours", r"\bin a matter of (?:hours|minutes)\b"),
        ("rapid relief", r"\brapid(?:ly)?\b(?! growing| eye)|\bfast(?:er)?\b(?! for\b|[- ]track)|\bfast[- ]acting\b"
                         r"|\bits speed\b|\b(?<!subside )(?<!fade )(?<!wear off )(?<!\bis )(?<!\bare )quick(?:ly)?\b"),
        ("guaranteed results", r"\bguarantee[ds]?\b"),
    ])
    + _rules("efficacy", [
        ("a success rate", r"\bsuccess rates?\b|\b\d{1,3}\s*(?:%|percent)\s+of\s+(?:our\s+)?(?:\w+\s+)?"
                           r"(?:patients|people|clients|users|customers)"
                           r"|\b(?:\d+|one|two|three|four|five|six|seven|eight|nine) (?:out of|in) (?:10|ten)\b"
                           r"|\bhelped (?:thousands|hundreds|millions)\b"
                           r"|\b\d{1,3}\s*(?:%|percent) (?:remission|response|success|cure|recovery) rate\b"
                           r"|\bup to \d{1,3}\s*(?:%|percent)\b|\bmost of our (?:patients|clients|customers|members)\b"
                           r"|\b(?:hundreds|thousands) of (?:people|patients|clients|customers)\b"
                           r"|\bmost (?:of our )?(?:patients|clients|people) (?:feel|notice|see|report|experience|respond)\b"
                           r"|\ban average of \d+ (?:pounds|lbs|kilos|kg)\b"),
        ("better than other treatments", r"\b(?:better|more effective|faster and better|superior|fewer side effects)"
                                         r"\b[^.]{0,40}\bthan\b|\bunparalleled by\b|\bmore effective alternative\b"
                                         r"|\blike nothing else\b|\bwhen nothing else (?:has )?work(?:s|ed)\b"
                                         r"|\bbetter than anything\b|\bwell above\b|\b(?:works|results) when\b"
                                         r"|\bas effective as\b|\bwhat (?:years|months) of [^.]{0,40}\b(?:cannot|can[’']t)\b"),
        ("studies back it", r"\b(?:research|studies|study|trials?|science)\s+(?:ha(?:ve|s)\s+)?"
                                  r"(?:consistently\s+)?(?:shows?|shown|demonstrated|proven|proves)\b"
                                  r"|\bha(?:s|ve) been (?:shown|proven) to\b|\bproven to\b|\bin clinical studies\b|\bhas been found to\b"
                                  r"|\bhas demonstrated the ability\b|\bhas shown (?:the )?ability\b"
                                  r"|\bclinically proven\b"),
        ("effective", r"\bso effective\b|\bhighly effective\b|\bthe effectiveness of\b|\beffectiveness in\b"
                            r"|\blong[- ]lasting relief\b|\blong[- ]term (?:benefits|improvements)\b"
                            r"|\bsignificant (?:and immediate )?(?:benefits|improvements?|decrease)\b"
                            r"|\bsurprising benefits\b|\bimproved brain function\b|\bmonths of relief\b"
                            r"|\blasting relief\b|\bimprovements stick\b"),
    ])
    + _rules("safety", [
        ("few side effects", r"\b(?:minimal|no|few|fewer|little|mild)\s+side[- ]effects\b"
                             r"|\blow risk\b|\brisk[- ]free\b|\bno risk\b|\bnone of the side[- ]effects\b"
                             r"|\bwithout (?:worrying about |the |any )?(?:side[- ]effects|grogginess|crash|downsides?)\b"
                             r"|\bside[- ]effect[- ]free\b|\bwithout the (?:risks?|dangers?|memory loss)\b"),
        ("well tolerated", r"\bwell[- ]tolerated\b|\b(?:subside|fade|wear off)\s+quickly\b"
                           r"|\bfind them manageable\b"),
        ("safe", r"\b(?:completely |totally |perfectly |very )?safe\b(?! messaging)|\bnon[- ]addictive\b"
                       r"|\b(?:100% |all[- ])natural\b"),
    ])
    + _rules("testimonial", [
        ("patients' reports", r"\b(?:patients|individuals|clients|people|customers|guests|users|members|parents"
                              r"|families|veterans)\b"
                                     r"[^.]{0,40}\b(?:report|reported|tell us|told us|describe|rave|are amazed|say)\b"
                                     r"|\b[A-Z][a-z]+ told us\b|\b(?:we|our (?:physicians|doctors|team|staff)|"
                                     r"Dr\.? [A-Z][a-z]+) (?:have|has|'ve) seen\b|\b(?:changed|saved) my life\b"
                                     r"|\boverwhelmingly positive\b|\bwe have (?:observed|seen)\b"
                                     r"|[\"“][^\"“”]{12,}[\"”],? (?:\w+ ){0,3}(?:says|said|explains|adds|shared|writes)\b"
                                     r"|(?<!\w)['‘][^'‘’]{12,}[’'],? (?:\w+ ){0,3}(?:says|said|explains|adds|shared|writes)\b"
                                     r"|\b(?:delighted|happy|satisfied) (?:client|patient|customer)s?\b"),
        ("a doctor's endorsement", r"\bDr\.\s+\w+(?:\s+\w+)?,[^.]{0,80}\b(?:explains|says|said|notes)\b"),
    ])
    + _rules("exaggeration", [
        ("", r"\bconsult with\b|\btake the first step\b|\bdon[’']t hesitate\b|\bcall (?:us )?today\b"
             r"|\bbook (?:a|your)\b|\bif you or someone you know\b|\brelief you[’']ve been searching for\b"
             r"|\bthe importance of seeking\b|\bif you or a loved one\b|\byou[’']ve been (?:searching|looking|waiting) for\b"
             r"|\b(?:book|schedule) (?:a |your )?(?:free )?(?:consultation|session|appointment|assessment)\b"
             r"|\bdon[’']t wait\b"),
        ("", r"\b(?:this|that)(?:[’']s| is) (?:exactly )?why\b(?! we\b)|\bwhich is (?:exactly )?why\b"
             r"|\bplays a key role in providing\b"),
        ("", r"\b(?:mice|rats) (?:given|fed|treated)\b|\b(?:a )?stud(?:y|ies) in (?:mice|rats|animals)"
             r" (?:shows?|showed|proves?|suggests?)\b"),
    ])
    + _rules("exaggeration", [
        ("", r"\bhelps? (?:to )?(?:restore|reverse|repair|heal|cure|the brain change)\b"
             r"|\b(?:rewires|resets|repairs|regenerates?|restores|reverses|restoring|rebalances"
             r"|retrains|rebuilds (?:the |your )?(?:neural|brain|nerve)|reversing (?:\w+ )?ag(?:e|ing)|heals? itself)\b"
             r"|\btrains the brain to heal\b"),
    ], unless_hedged=True)
)

# "One treatment for many conditions": three or more distinct diagnoses in one sentence, or
# "these conditions" pointing back at such a list.
_CONDITIONS = {
    "depression": r"\bdepression\b",  # counted only when no more specific form is named
    "trd": r"\btreatment[- ]resistant depression\b|\bTRD\b",
    "mdd": r"\bmajor depressive disorders?\b|\bMDD\b",
    "bipolar": r"\bbipolar\b",
    "ptsd": r"\bPTSD\b|\bpost[- ]traumatic stress\b",
    "anxiety": r"\banxiety\b",
    "pain": r"\bchronic pain\b|\bjoint pain\b|\bback pain\b|\barthritis\b|\bfibromyalgia\b",
    "migraine": r"\bmigraines?\b|\bheadaches?\b",
    "sleep": r"\binsomnia\b|\bsleep problems\b",
    "skin": r"\bacne\b|\bwrinkles\b|\beczema\b|\bpsoriasis\b|\bclear(?:er| up| up your| your) skin\b",
    "hair": r"\bhair loss\b",
    "inflammation": r"\binflammation\b",
    "autism": r"\bautism\b|\bADHD\b",
    "neuro": r"\bstroke\b|\bmultiple sclerosis\b|\bdementia\b|\balzheimer\S*|\bparkinson\S*",
    "metabolic": r"\bdiabetes\b|\bobesity\b|\bweight loss\b",
    "covid": r"\blong covid\b",
    "lung": r"\bCOPD\b|\basthma\b",
    "ed": r"\berectile dysfunction\b",
    "injury": r"\bsports injuries\b|\b(?:brain )?injur(?:y|ies)\b",
    "fatigue": r"\bfatigue\b|\bboost energy\b",
    "immunity": r"\bimmunity\b|\bfrequent colds\b",
    "hangover": r"\bhangovers?\b|\bjet lag\b",
    "gut": r"\bleaky gut\b|\bgut inflammation\b|\birritable bowel\b|\bIBS\b",
    "tendon": r"\btorn tendons?\b|\btendonitis\b",
    "mood": r"\blow mood\b",
    "ocd": r"\bOCD\b|\bobsessive[- ]compulsive\b",
    "addiction": r"\baddictions?\b|\bsubstance use\b|\balcohol use disorder\b",
    "list": r"\b(?:these|other|many|multiple) (?:conditions|disorders|illnesses)\b",
}
# one pass over the text: each match names its condition (a longer form wins where they overlap)
_CONDITION_PATTERN = re.compile("|".join(f"(?P<{name}>{p})" for name, p in _CONDITIONS.items()), re.IGNORECASE)
MANY_CONDITIONS = 3
_LABEL_LIST = re.compile(r"\b(?:approved|indicated|licensed|cleared) (?:\w+ )?for\b", re.IGNORECASE)
# "... for hangovers, jet lag and migraines": three or more short items after a word of treating
_TREATS_LIST = re.compile(r"\b(?:treat(?:s|ing)?|help(?:s|ing)? with|recovery from|relief from|eases?|calms?|heals?"
                          r"|(?:treatment|therapy|remedy|powerhouse|cure|solution|relief|works?|effective|miracle)\b"
                          r"[^,.]{0,30}?"
                          r"\bfor)"
                          r"\s+(?:[\w'-]+(?: [\w'-]+){0,2},\s+){2,}(?:and |or )?[\w'-]+", re.IGNORECASE)
_MANY_CLAIM = "one treatment for many conditions"


def _many_conditions(text: str) -> list[tuple[int, int]]:
    found: dict[str, list[re.Match]] = {}
    for m in _CONDITION_PATTERN.finditer(text):
        found.setdefault(m.lastgroup, []).append(m)
    if "depression" in found and {"trd", "mdd"} & set(found):
        del found["depression"]
    if _LABEL_LIST.search(text):  # a label's approved uses, not a promise
        return []
    if "list" not in found and len(found) < MANY_CONDITIONS:
        listed = _TREATS_LIST.search(text)
        return [(listed.start(), listed.end())] if listed else []
    return [(m.start(), m.end()) for ms in found.values() for m in ms]


@dataclass(frozen=True)
class Match:
    kind: str
    claim: str
    start: int
    end: int


def matches(text: str) -> list[Match]:
    """Every rule that fires on `text`, with the offsets of its words."""
    out = [Match(rule.kind, rule.claim, m.start(), m.end()) for rule in RULES for m in rule.pattern.finditer(text)
           if not (rule.unless_hedged and _HEDGED.search(text, max(0, m.start() - 20), m.start()))]
    out += [Match("many_conditions", _MANY_CLAIM, s, e) for s, e in _many_conditions(text)]
    return out


def detect(text: str) -> tuple[Flag, ...]:
    """The promotional-claim flags of one sentence, one per class, in a fixed class order;
    each names the words (and their offsets in `text`) that triggered it."""
    return flags_of(text, matches(text))


def flags_of(text: str, found_matches: list[Match]) -> tuple[Flag, ...]:
    """The flags made from the matches of `text` (found now, or stored in the index)."""
    found: dict[str, dict] = {}
    for m in found_matches:
        entry = found.setdefault(m.kind, {"spans": [], "claims": []})
        entry["spans"].append((m.start, m.end))
        if m.claim and m.claim not in entry["claims"]:
            entry["claims"].append(m.claim)
    flags = []
    for kind in LABELS:
        if kind in found:
            spans = _merge(found[kind]["spans"])
            flags.append(Flag(kind, LABELS[kind], tuple(text[s:e] for s, e in spans), tuple(spans),
                              tuple(found[kind]["claims"])))
    return tuple(flags)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans with overlaps joined, so each trigger word is named once."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


# ---- agreement across sources --------------------------------------------------------------

# Speed claims that put a time on the effect: when sources give different ones, they differ.
TIMING = ("immediate relief", "relief within an hour", "relief within hours", "relief within days")


@dataclass(frozen=True)
class Occurrence:
    """Where a document makes a claim: the sentence (row in the index)."""

    sentence: int


CLAIMS: tuple[str, ...] = tuple(dict.fromkeys([r.claim for r in RULES if r.claim] + [_MANY_CLAIM]))
# recorded in the index: rows found by other rules are not these rules' rows
FINGERPRINT = hashlib.sha256("\n".join(
    [f"{r.kind}|{r.claim}|{r.unless_hedged}|{r.pattern.pattern}" for r in RULES]
    + [_CONDITION_PATTERN.pattern, _TREATS_LIST.pattern, str(MANY_CONDITIONS)]).encode()).hexdigest()[:16]


KINDS: tuple[str, ...] = tuple(LABELS)


def match_rows(texts, known: dict[str, list[tuple]] | None = None) -> np.ndarray:
    """(class id in KINDS, claim id in CLAIMS or -1, text number, start, end) for every rule
    that fires on each text, in text order: computed once when the index is built, so that
    answering a question runs no rule. `known` (text -> its (class, claim, start, end)
    rows, from the previous build by the same rules) spares texts that did not change."""
    known = known or {}
    rows = []
    for i, text in enumerate(texts):
        found = known.get(text)
        if found is None:
            found = [(KINDS.index(m.kind), CLAIMS.index(m.claim) if m.claim else -1, m.start, m.end)
                     for m in matches(text)]
        rows += [(k, c, i, s, e) for k, c, s, e in found]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 5)


def rows_to_matches(rows: np.ndarray) -> list[Match]:
    return [Match(KINDS[k], CLAIMS[c] if c >= 0 else "", start, end) for k, c, _, start, end in np.asarray(rows).tolist()]


def claims_by_source(rows: np.ndarray, sentences, documents: frozenset[str]) -> dict[str, dict[str, Occurrence]]:
    """claim -> document -> the sentence in which it makes that claim, over the sentences
    of `documents` (the marketing sources; reference notes are not counted)."""
    out: dict[str, dict[str, Occurrence]] = {}
    for _, claim_id, i, _, _ in np.asarray(rows).tolist():
        if claim_id < 0:
            continue
        sentence = sentences[i]
        if sentence.doc_id not in documents:
            continue
        by_doc = out.setdefault(CLAIMS[claim_id], {})
        seen = by_doc.get(sentence.doc_id)
        # the first place a document says it; but a whole sentence says it better than a
        # heading ("Rapid Relief for ...") does
        if seen is None or (not ends_sentence(sentences[seen.sentence].text) and ends_sentence(sentence.text)):
            by_doc[sentence.doc_id] = Occurrence(i)
    return out


def timings_differ(known: dict[str, dict[str, Occurrence]]) -> bool:
    """Do the sources give different timings? Each source's set of timings is compared, so
    one source's "within hours or days" is not a disagreement with itself."""
    per_source: dict[str, set[str]] = {}
    for claim in TIMING:
        for doc in known.get(claim, {}):
            per_source.setdefault(doc, set()).add(claim)
    return len({frozenset(v) for v in per_source.values()}) > 1


def claims_to_count(flags: list[Flag], known: dict[str, dict[str, Occurrence]], limit: int) -> list[str]:
    """The claims the shown quotes make, in order; when one of them puts a time on the
    effect, every timing the sources give comes too, so differing timings are visible."""
    claims = [c for f in flags for c in f.claims if c in known]
    if any(c in TIMING for c in claims):
        claims += [c for c in TIMING if c in known]
    return list(dict.fromkeys(claims))[:limit]


def kind_of(claim: str) -> str:
    return next(r.kind for r in RULES if r.claim == claim) if claim != _MANY_CLAIM else "many_conditions"
