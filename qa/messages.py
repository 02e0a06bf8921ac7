"""The project's own fixed text: disclaimers and routing messages. This is the only
prose the bot shows that is not a quote; none of it makes a claim about a treatment."""

MARKETING_LABEL = "marketing source"

DISCLAIMER_MARKETING = (
    "The quoted sources are marketing materials (press releases and promotional articles), "
    "not medical evidence; any regulator facts shown are this project's own notes, linked to public pages. "
    "Nothing here is medical advice: ask a qualified clinician about "
    "your own situation. In a crisis, call or text 988 (US) or find a line at findahelpline.com."
)
DISCLAIMER_GENERAL = (
    "These quotes come from the documents in this collection and are shown as written; they are "
    "not checked for accuracy. Nothing here is medical advice: ask a qualified clinician about your "
    "own situation. In a crisis, call or text 988 (US) or find a line at findahelpline.com."
)

ANSWER_INTRO = "Here is what the sources say, quoted word for word:"

FLAGGED = "Promotional wording:"
AGREEMENT_HEADING = "Which sources make these claims (counted by document, not by sentence)"
CLAIMED_BY = "Claimed by {count}:"
MANY = "{n} of {total} sources"
ONLY_ONE = "only 1 of {total} sources"
AND_MORE = "and {n} more"
DIFFER_TIMING = "The sources give different timings:"
SAME_TIMING = "Timings the sources give:"

REGULATOR_HEADING = "What regulators say"
REGULATOR_NOTE = ("Not from the sources above: a reference note this project wrote from regulator pages (and one "
                  "journal review), each fact with the page it comes from.")
FROM = "from"

CRISIS = """**It sounds like you are going through something really painful. You deserve support right now, and reaching out is a good step.**

- **US:** call or text **988** (Suicide & Crisis Lifeline), or chat at **988lifeline.org**. If you are in immediate danger, call **911**.
- **UK and Ireland:** call Samaritans on **116 123** (free, any time). In an emergency, call **999**.
- **Anywhere else:** **findahelpline.com** lists free, confidential helplines by country.

You don't have to go through this alone: a trained person can listen now. This tool only searches articles and cannot help in a crisis."""

MEDICAL_ADVICE = """I can't advise on your own dose, medication or treatment decisions, and the documents here are marketing materials, not medical guidance, so I won't quote them for this.

Please ask the clinician who prescribes for you (or a pharmacist) before starting, stopping, combining or changing any medication or treatment.

If you are asking because you are thinking about harming yourself, call or text **988** (US) or find a line at **findahelpline.com**."""

NO_ANSWER = ("The sources do not address this question, so there is nothing to quote "
             "(I searched {n} documents and found no passage that answers it).")
NOT_MENTIONED = "None of them mentions {words}."

OUT_OF_SCOPE = ("That question is outside what this tool covers. It only answers from its documents: "
                "{description}. Nothing is quoted for questions about other topics.")

EMPTY = "Please type a question."
TOO_LONG = ("Your question is {n:,} characters long; please ask it in at most {limit:,} characters "
            "(one question at a time works best).")
