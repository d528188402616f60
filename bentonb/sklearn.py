"""``bentonb.sklearn``: the 1.x model functions for sklearn (BentoML's ``bentoml.sklearn``)."""

from bentonb.frameworks.sklearn import get, load_model, save_model

__all__ = ["get", "load_model", "save_model"]
