"""Shared fixtures: a tiny abuse model trained in seconds, so unit tests need neither network nor shipped model."""

from __future__ import annotations

import contextlib
import socket
import ssl as _ssl
import threading
import time

import httpx
import numpy as np
import pandas as pd
import pytest
import uvicorn

from moderation.abuse import AbuseModel
from moderation.corpora.abuse import CATEGORIES, civil_comments, insults_2012
from moderation.policy import Policy, Rule
from moderation.scoring import Moderator


@pytest.fixture(scope="session")
def tiny_table() -> pd.DataFrame:
    """A small real sample: insults-2012 (insult/abusive) and Civil Comments posts (categories). The Civil
    Comments posts are all abusive, so with fewer civil insults-2012 rows news words alone read as abuse (at 1,200
    a thank-you note scored 0.51)."""
    frames = [insults_2012().frame.sample(2000, random_state=0), civil_comments().frame.sample(600, random_state=0)]
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


@contextlib.contextmanager
def _serving(app, **ssl):
    """Run ``app`` on a free loopback port in a thread; yield an httpx client for it (https when ``ssl`` holds
    uvicorn's ``ssl_certfile``/``ssl_keyfile``; the client then trusts that certificate)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, **ssl))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        scheme = "https" if ssl else "http"
        verify = _ssl.create_default_context(cafile=ssl["ssl_certfile"]) if ssl else True
        base_url = f"{scheme}://127.0.0.1:{sock.getsockname()[1]}"
        with httpx.Client(base_url=base_url, timeout=20, verify=verify) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="session")
def serving():
    """``serving(app)``: a context manager running ``app`` on loopback and yielding an httpx client for it."""
    return _serving
