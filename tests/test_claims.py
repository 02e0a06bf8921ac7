"""Claim flags, regulator facts and their topics: the detector on the seeds' own sentences
and on the hand-labelled set; the reference note's facts and links. No model needed."""

import json
from importlib import resources

from qa.claims import LABELS, detect
from qa.evaluate import flag_metrics, load_flag_labels
from qa.load import load_corpus
from qa.reference import REFERENCE_KIND, facts_of, topics

from .conftest import REPO, SEEDS


def kinds(text: str) -> set[str]:
    return {f.kind for f in detect(text)}


def test_promotional_sentences_from_the_seeds_are_flagged_with_their_words():
    text = ("With a success rate unparalleled by conventional interventions, Ketamine treatment for depression "
            "represents a much-needed lifeline for those with treatment-resistant symptoms.")
    flags = {f.kind: f for f in detect(text)}
    assert {"hype", "efficacy"} <= set(flags)
    assert "unparalleled" in flags["hype"].words and "lifeline" in flags["hype"].words
    assert any("success rate" in w for w in flags["efficacy"].words)
    for f in flags.values():  # each word is named with its place in the sentence
        assert all(text[s:e] == w for (s, e), w in zip(f.spans, f.words))
        assert f.label == LABELS[f.kind]
    safety = ("Another benefit of ketamine IV therapy is that it tends to have fewer side effects than "
              "traditional antidepressant medications.")
    assert {"safety", "efficacy"} <= kinds(safety)
    assert kinds("By contrast, many patients report feeling relief from depressive symptoms within hours of "
                 "receiving their first ketamine infusion.") >= {"speed", "testimonial"}
    assert "many_conditions" in kinds("Beyond treatment-resistant depression, ketamine has shown potential in "
                                      "treating other conditions such as anxiety disorders, post-traumatic stress "
                                      "disorder (PTSD), and chronic pain.")


def test_plain_descriptions_and_regulatory_terms_are_not_flagged():
    assert detect("While the exact mechanisms are still being studied, it appears that ketamine inhibits the "
                  "NMDA glutamate receptor.") == ()
    assert detect("Ketamine works by blocking NMDA receptors, a type of receptor involved in the brain’s "
                  "glutamate system.") == ()
    assert detect("In 2016 the FDA granted Breakthrough Therapy designation to esketamine.") == ()
    assert detect("Early research suggests ketamine may help reverse the neuronal damage.") == ()  # hedged
    assert "speed" not in kinds("The clinic is a rapidly growing area of care.")


def test_detector_meets_the_hand_labels_of_every_seed_sentence():
    labels = load_flag_labels()
    texts = {d.id: d.text for d in load_corpus(SEEDS).documents}
    rows = [json.loads(line) for line in
            resources.files("qa").joinpath("data/claim_labels.jsonl").read_text().splitlines() if line.strip()]
    # the labels cover the marketing documents sentence by sentence, at their offsets
    assert len(rows) == len(labels) >= 130
    assert all(texts[r["doc"]][r["start"]:r["start"] + len(r["text"])] == r["text"] for r in rows)
    assert sum(bool(c) for _, c in labels) >= 50 and sum(not c for _, c in labels) >= 50
    m = flag_metrics(labels)
    assert m["all"]["precision"] >= 0.9 and m["all"]["recall"] >= 0.9
    assert all(m[k]["tp"] > 0 for k in LABELS)  # every class occurs and is found


def test_flag_metrics_count_misses_and_false_alarms():
    m = flag_metrics([("It works within hours.", {"speed"}), ("Plain text here.", {"hype"}),
                      ("A revolutionary cure.", set())])
    assert (m["speed"]["tp"], m["hype"]["fn"], m["hype"]["fp"]) == (1, 1, 1)
    assert m["all"]["precision"] == 0.5 and m["all"]["recall"] == 0.5


def test_reference_note_facts_each_carry_their_page():
    docs = [d for d in load_corpus(SEEDS).documents if d.meta.kind == REFERENCE_KIND]
    assert len(docs) == 1
    facts = facts_of(docs[0])
    assert len(facts) >= 10
    for f in facts:
        text = docs[0].text[f.start:f.end]
        assert not text.startswith("Source:") and text.endswith(".")
        assert f.url.startswith("https://") and f.source
    assert {f.url.split("/")[2] for f in facts} >= {"www.fda.gov", "dailymed.nlm.nih.gov", "jamanetwork.com"}


def test_question_topics():
    assert topics("How fast does ketamine work?") == ("speed",)
    assert topics("Is IV ketamine FDA-approved?") == ("approval",)
    assert set(topics("What are the side effects? Is it safe?")) == {"safety", "side_effects"}
    assert topics("Which receptor does ketamine block?") == ()


def test_detector_on_sentences_it_was_not_written_for():
    """Set 4 was written after the rules were last changed: its figures are the honest ones
    (precision 0.91, recall 0.42 over classes when measured); this guards against regression.
    Set 3 was written blind to the previous rules and then used to widen them."""
    m = flag_metrics(load_flag_labels(REPO / "tests" / "data" / "claims_heldout" / "set4.jsonl"))
    assert m["all"]["precision"] >= 0.85 and m["all"]["recall"] >= 0.4
    assert m["sentences"]["precision"] >= 0.9 and m["sentences"]["recall"] >= 0.5
    widened = flag_metrics(load_flag_labels(REPO / "tests" / "data" / "claims_heldout" / "set3.jsonl"))
    assert widened["all"]["precision"] >= 0.9 and widened["all"]["recall"] >= 0.9


def test_timings_differ_between_sources_not_within_one():
    from qa.claims import Occurrence, timings_differ

    one_source_range = {"relief within hours": {"a": Occurrence(0)}, "relief within days": {"a": Occurrence(0)}}
    assert not timings_differ(one_source_range)  # "within hours or days" from one source
    assert not timings_differ({"relief within hours": {"a": Occurrence(0), "b": Occurrence(5)}})
    assert timings_differ({"relief within hours": {"a": Occurrence(0), "b": Occurrence(5)},
                           "relief within an hour": {"b": Occurrence(6)}})


def test_claim_words_keep_a_little_context_and_mark_cuts():
    from qa.answer import _in_context

    text = "Unlike older drugs that take weeks, ketamine often provides relief within hours or days."
    i = text.index("within hours")
    assert _in_context(text, i, i + len("within hours"), 3) == "…often provides relief within hours or days."
    assert _in_context("Rapid relief for all.", 0, 5, 3) == "Rapid relief for all."


def test_side_effects_fading_fast_and_label_lists_are_not_promises():
    assert "speed" not in kinds("Minimal side effects that fade within an hour.")
    assert "speed" not in kinds("Please fast for six hours before your infusion.")
    assert "many_conditions" not in kinds("SSRIs are approved for depression, generalized anxiety disorder, "
                                          "panic disorder and OCD.")
    assert "hype" not in kinds("The report warned that clinics advertising ketamine as a 'miracle cure' mislead.")
