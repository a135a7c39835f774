"""Coral Talk's external moderation phase: its signed request in, Coral's phase response out.

Coral (``services/comments/pipeline/phases/external.ts``) publishes a comment unchecked whenever the phase
answers anything but 2xx or does not answer within the phase's timeout, so every comment gets a 2xx answer
here: a body of either format is judged under every reading (``bodies.readings``), a long one in windows; one
too long to read whole, or not judged before the deadline set under Coral's timeout, or whose scoring failed,
is held for a moderator.
"""

from __future__ import annotations

from moderation.policy import DECISIONS, REASON_CODES
from moderation.service.bodies import readings, windows
from moderation.service.http import ApiError, json_object

FLAG_REASON = {REASON_CODES["off_topic"]: "COMMENT_DETECTED_SPAM"}  # every other code: COMMENT_DETECTED_TOXIC
# Our reason codes as Coral's rejection reasons (GQLREJECTION_REASON_CODE), most telling first.
REJECTION_CODES = {"HATE_SPEECH": "HATE_SPEECH", "THREAT": "ABUSIVE", "INSULT": "ABUSIVE", "ABUSIVE": "ABUSIVE",
                   "TOXIC": "ABUSIVE", "OBSCENE": "OFFENSIVE", "IRRELEVANT_CONTENT": "IRRELEVANT_CONTENT"}
UNJUDGED = "UNJUDGED"  # our reason for holding a comment we could not judge whole (too long, too late, failed)


def comment_body(body: dict) -> str:
    """``comment.body`` of Coral's External Moderation Request (HTML or plain text: Coral does not say which)."""
    text = json_object(body, "comment").get("body")
    if not isinstance(text, str):
        raise ApiError(400, "comment.body must be a string")
    return text


def texts_to_judge(body: str, max_chars: int) -> tuple[list[str], bool]:
    """Every reading of ``body`` with its windows, and whether some of it goes unread (too long)."""
    texts, unread = [], False
    for reading in readings(body):
        pieces, cut = windows(reading, max_chars)
        texts += pieces
        unread |= cut
    return texts, unread


def strictest(rows: list[dict], unread: bool) -> tuple[str, list[str]]:
    """The strictest decision over the scored texts of one comment and the reason codes behind it; a comment
    with text left unjudged is held for review at least."""
    level = max([DECISIONS.index(row["decision"]) for row in rows] + [1 if unread else 0])
    codes = [code for row in rows if DECISIONS.index(row["decision"]) == level for code in row["reason_codes"]]
    if unread and level == 1:
        codes.append(UNJUDGED)
    return DECISIONS[level], list(dict.fromkeys(codes))


def coral_response(decision: str, reason_codes: list[str]) -> dict | None:
    """Coral's External Moderation Response for a decision; None (answer 204) when approved.

    review -> ``SYSTEM_WITHHELD`` (held for a moderator, as Coral's own Perspective phase does); reject ->
    ``REJECTED`` with a ``moderationAction`` carrying the rejection reason, without which Coral neither records
    the decision, nor notifies the author, nor gives the DSA reason. Both carry a FLAG per reason: spam for
    off-topic, toxic for the rest; a comment held unjudged gets none (Coral offers no flag that says so).
    """
    if decision == "approve":
        return None
    flags = dict.fromkeys(FLAG_REASON.get(code, "COMMENT_DETECTED_TOXIC") for code in reason_codes
                          if code != UNJUDGED)
    answer: dict = {"status": "SYSTEM_WITHHELD" if decision == "review" else "REJECTED",
                    "actions": [{"actionType": "FLAG", "reason": reason} for reason in flags]}
    if decision == "reject":
        code = next((REJECTION_CODES[c] for c in REJECTION_CODES if c in reason_codes), "OTHER")
        answer["moderationAction"] = {"status": "REJECTED", "rejectionReason": {"code": code}}
    return answer
