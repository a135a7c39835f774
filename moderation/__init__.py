"""Offline moderation of news-site reader comments.

The flow is page -> comments -> features -> probabilities -> decisions:
``parse_page`` turns a saved article page into an ``Article`` with its ``Comment`` records,
``load`` returns the shipped ``Moderator`` whose ``score`` gives probabilities, decisions and reasons.
Nothing heavy is imported here: models load when ``load`` is called, never at import time.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("moderation")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["Article", "Comment", "parse_page", "load", "train", "evaluate", "sample", "__version__"]


def __getattr__(name: str):
    """Import the public API on first use, so `import moderation` stays instant."""
    if name in {"Article", "Comment", "parse_page"}:
        from moderation import pages

        return getattr(pages, name)
    if name == "load":
        from moderation.scoring import load

        return load
    if name in {"train", "evaluate"}:  # callable modules: moderation.train(...) retrains, moderation.evaluate(...)
        import importlib

        return importlib.import_module(f"moderation.{name}")
    if name == "sample":
        from moderation.sampling import sample

        return sample
    raise AttributeError(f"module 'moderation' has no attribute {name!r}")


def _callable_module(module_name: str, function: str) -> None:
    """Make ``moderation.<module>(...)`` call ``function``: ``moderation.train`` and ``moderation.evaluate`` are
    both the modules (importable as ever) and the public functions the CLI verbs of the same names wrap."""
    import sys
    import types

    class CallableModule(types.ModuleType):
        def __call__(self, *args, **kwargs):
            return getattr(self, function)(*args, **kwargs)

    sys.modules[module_name].__class__ = CallableModule
