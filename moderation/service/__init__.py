"""`moderation serve`: the shipped models over HTTP, on the newsroom's own machine.

One module per protocol, each a set of pure request/response mappings: ``perspective`` (``comments:analyze``
and ``comments:suggestscore``, so Coral's Perspective settings can point here) and ``coral`` (Coral's external
moderation phase). What they share has rooms of its own: ``bodies`` (the texts a comment body is judged as),
``auth`` (API keys, Coral signatures, exposure), ``batching`` (concurrent requests scored together off the event
loop), ``labelstore`` (verdicts for retraining), ``metrics``, ``http`` (errors and bodies); ``app`` wires them
to routes, ``config`` starts the server.
"""

from moderation.service.app import Limits, create_app
from moderation.service.auth import ServeError
from moderation.service.config import ServeConfig, run

__all__ = ["Limits", "ServeConfig", "ServeError", "create_app", "run"]
