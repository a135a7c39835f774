"""scikit-learn's estimator conventions without importing scikit-learn to load or score.

Importing scikit-learn (with the SciPy and pandas modules it pulls in) took most of a second, most of the
start-up, though scoring needs none of it. The estimators of this package follow its conventions (``__init__``
stores parameters, ``get_params``/``set_params`` for ``clone`` and grid searches, learned state ends in ``_``)
and import it only inside ``fit``; what they learn is kept as numpy arrays, so unpickling a model imports
numpy and SciPy's sparse matrices, nothing more. ``Linear`` is a fitted logistic regression kept that way.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np


class Estimator:
    """``get_params``/``set_params`` read from ``__init__``'s signature, as scikit-learn's ``BaseEstimator``."""

    _estimator_type: str | None = None

    @classmethod
    def _param_names(cls) -> list[str]:
        return [name for name in inspect.signature(cls.__init__).parameters if name != "self"]

    def get_params(self, deep: bool = True) -> dict:
        out = {}
        for name in self._param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update({f"{name}__{key}": item for key, item in value.get_params().items()})
            out[name] = value
        return out

    def set_params(self, **params) -> Estimator:
        nested: dict[str, dict] = {}
        for key, value in params.items():
            name, _, inner = key.partition("__")
            if name not in self._param_names():
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}")
            if inner:
                nested.setdefault(name, {})[inner] = value
            else:
                setattr(self, name, value)
        for name, inner_params in nested.items():
            getattr(self, name).set_params(**inner_params)
        return self

    def check_fitted(self, attribute: str) -> None:
        """Refuse to use an estimator before ``fit`` (as scikit-learn's ``check_is_fitted``, with a ValueError)."""
        if attribute not in self.__dict__:
            raise ValueError(f"This {type(self).__name__} is not fitted yet; call 'fit' first.")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_params(deep=False).items())})"

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, Tags, TargetTags, TransformerTags

        classifier = self._estimator_type == "classifier"
        return Tags(estimator_type=self._estimator_type, target_tags=TargetTags(required=classifier),
                    classifier_tags=ClassifierTags() if classifier else None,
                    transformer_tags=None if classifier else TransformerTags())


class Classifier(Estimator):
    """An estimator scikit-learn's ``is_classifier`` recognises."""

    _estimator_type = "classifier"


@dataclass(frozen=True)
class Linear:
    """A fitted logistic regression as arrays, after a standardisation when ``mean`` is set: scikit-learn's own
    arithmetic, so the decision values are ``decision_function``'s bit for bit (``Pipeline(StandardScaler(),
    LogisticRegression())``'s with ``mean``)."""

    coef: np.ndarray  # (1, n_features), LogisticRegression.coef_
    intercept: np.ndarray
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None

    @classmethod
    def of(cls, fitted) -> Linear:
        """From a fitted ``LogisticRegression``, or a ``Pipeline`` of ``StandardScaler`` then one."""
        steps = [step for _, step in fitted.steps] if hasattr(fitted, "steps") else [fitted]
        scaler = steps[0] if len(steps) > 1 else None
        return cls(steps[-1].coef_, steps[-1].intercept_, getattr(scaler, "mean_", None),
                   getattr(scaler, "scale_", None))

    def decision_function(self, X) -> np.ndarray:
        if self.mean is not None:
            X = (np.asarray(X, dtype=float) - self.mean) / self.scale
        return (X @ self.coef.T + self.intercept).ravel()

    def probability(self, X) -> np.ndarray:
        """The positive class's probability (``predict_proba(X)[:, 1]``, with SciPy's sigmoid as scikit-learn's;
        imported here, not with the module: it took a quarter of the start-up)."""
        from scipy.special import expit

        return expit(self.decision_function(X))
