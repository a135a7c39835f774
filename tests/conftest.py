"""Shared fixtures: a tiny abuse model trained in seconds, so unit tests need neither network nor shipped model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from moderation.abuse import AbuseModel
from moderation.corpora.abuse import CATEGORIES, civil_comments, insults_2012
from moderation.policy import Policy, Rule
from moderation.scoring import Moderator


@pytest.fixture(scope="session")
def tiny_table() -> pd.DataFrame:
    """A small real sample: insults-2012 (insult/abusive) and Civil Comments posts (categories)."""
    frames = [insults_2012().frame.sample(1200, random_state=0), civil_comments().frame.sample(600, random_state=0)]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="session")
def tiny_abuse(tiny_table) -> AbuseModel:
    model = AbuseModel(max_features=5000, min_df=2, calibration_folds=3)
    categories = [c for c in CATEGORIES if c != "toxic"]  # the sample's toxic labels are all positive
    return model.fit(tiny_table["text"], tiny_table[categories],
                     calibrate_on=(tiny_table["corpus"] == "insults-2012").to_numpy())


@pytest.fixture(scope="session")
def tiny_moderator(tiny_abuse) -> Moderator:
    rules = {c: Rule(0.5, 0.9, c == "abusive") for c in tiny_abuse.classes_}
    return Moderator(tiny_abuse, None, Policy(rules), version="tiny-test")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
