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


@pytest.fixture(scope="session")
def tiny_model_file(tiny_abuse, tmp_path_factory):
    """The tiny model saved as an artifact with a card, for tests that go through files and the CLI."""
    from moderation import artifacts

    path = tmp_path_factory.mktemp("models") / "abuse.joblib"
    thresholds = {c: {"review": 0.5, "reject": 0.9} for c in tiny_abuse.classes_}
    artifacts.save(tiny_abuse, path, {"name": "abuse", "version": "tiny-test", "thresholds": thresholds})
    return path


@pytest.fixture(scope="session")
def seed_pages() -> dict:
    """The five seed pages by their number prefix ("000" … "004")."""
    from moderation.corpora import shared_dir

    return {path.name[:3]: path for path in sorted((shared_dir() / "seeds").glob("*.txt"))}
