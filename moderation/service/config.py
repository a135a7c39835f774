"""Configuration and start-up: from ``moderation serve``'s options to a listening server (TLS when asked).

With ``--workers N`` uvicorn starts N processes, each building its app with ``app_from_env`` from the JSON
config put in ``MODERATION_SERVE``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
from dataclasses import dataclass

from starlette.applications import Starlette

from moderation.policy import Policy
from moderation.scoring import Moderator
from moderation.service.app import Limits, create_app
from moderation.service.auth import ServeError, check_exposure, read_api_keys, read_coral_secrets

ENV_CONFIG = "MODERATION_SERVE"


@dataclass(frozen=True)
class ServeConfig:
    """What ``moderation serve`` was asked for; JSON in ``MODERATION_SERVE`` for ``--workers`` processes.
    Secrets stay in their own environment variables (``MODERATION_API_KEYS``, ``MODERATION_CORAL_SECRET``)."""

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    policy_file: str | None = None
    api_keys_file: str | None = None
    labeled_dir: str = "labeled"
    log_text: bool = False
    max_body_bytes: int = 1_000_000
    max_text_chars: int = 20_000
    other_languages: str = "refuse"
    coral_deadline_ms: int = 150
    certfile: str | None = None
    keyfile: str | None = None

    def limits(self) -> Limits:
        return Limits(self.max_body_bytes, self.max_text_chars, self.other_languages, self.coral_deadline_ms)


def load_models(config: ServeConfig) -> tuple[Moderator, Policy]:
    """The verified models and the decision policy, or a ``ServeError`` saying why not."""
    from moderation.artifacts import ArtifactError
    from moderation.policy import PolicyError
    from moderation.scoring import load

    try:
        moderator = load()
        return moderator, moderator.policy.with_file(config.policy_file) if config.policy_file else moderator.policy
    except (ArtifactError, PolicyError, OSError) as exc:
        raise ServeError(str(exc)) from exc


def app_from_config(config: ServeConfig) -> Starlette:
    """Load the models and build the app (once per worker process)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    moderator, policy = load_models(config)
    return create_app(moderator, api_keys=read_api_keys(config.api_keys_file), coral_secret=read_coral_secrets(),
                      labeled_dir=config.labeled_dir, policy=policy, log_text=config.log_text,
                      limits=config.limits())


def app_from_env() -> Starlette:
    """uvicorn's app factory for ``--workers`` processes."""
    return app_from_config(ServeConfig(**json.loads(os.environ[ENV_CONFIG])))


def tls_options(config: ServeConfig) -> dict:
    """uvicorn's TLS options: both files or neither, each readable, checked before anything loads."""
    if bool(config.certfile) != bool(config.keyfile):
        raise ServeError("TLS needs both --certfile and --keyfile")
    if not config.certfile:
        return {}
    import ssl

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(config.certfile, config.keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise ServeError(f"cannot use {config.certfile} / {config.keyfile} for TLS: {exc}") from exc
    return {"ssl_certfile": config.certfile, "ssl_keyfile": config.keyfile}


def run(config: ServeConfig) -> None:
    """Check the exposure and TLS files, load the models and serve until stopped. Raises ``ServeError`` before
    listening."""
    import uvicorn

    check_exposure(config.host, read_api_keys(config.api_keys_file))
    options = {"host": config.host, "port": config.port, "access_log": False, "log_level": "info",
               **tls_options(config)}
    if config.workers == 1:
        uvicorn.run(app_from_config(config), **options)
        return
    load_models(config)  # fail here, once and clearly: uvicorn would restart workers that cannot load forever
    os.environ[ENV_CONFIG] = json.dumps(dataclasses.asdict(config))
    with tempfile.TemporaryDirectory(prefix="moderation-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        uvicorn.run("moderation.service.config:app_from_env", factory=True, workers=config.workers, **options)
