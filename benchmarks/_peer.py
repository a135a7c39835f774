"""The peer's side of ``benchmarks/abuse.py``, run by the Python of the peer's own virtual environment.

Reads texts (one JSON string a line), scores them with alt-profanity-check's ``predict_prob`` in one call,
saves the probabilities as .npy and writes timings and library versions as JSON:

    .peer-venv/bin/python benchmarks/_peer.py TEXTS.jsonl PROBA.npy INFO.json
"""

from __future__ import annotations

import json
import platform
import sys
import time
from importlib.metadata import version


def main(texts_path: str, proba_path: str, info_path: str) -> None:
    started = time.perf_counter()
    import numpy as np
    from profanity_check import predict_prob

    loaded = time.perf_counter()
    with open(texts_path, encoding="utf-8") as handle:
        texts = [json.loads(line) for line in handle]
    read = time.perf_counter()
    proba = predict_prob(texts)
    predicted = time.perf_counter()
    np.save(proba_path, proba)
    info = {"rows": len(texts), "import_seconds": loaded - started, "read_seconds": read - loaded,
            "predict_seconds": predicted - read,
            "versions": {"python": platform.python_version(), "alt-profanity-check": version("alt-profanity-check"),
                         "scikit-learn": version("scikit-learn"), "numpy": version("numpy")}}
    with open(info_path, "w", encoding="utf-8") as handle:
        json.dump(info, handle)


if __name__ == "__main__":
    main(*sys.argv[1:4])
