"""``bentonb.xgboost``: the 1.x model functions for xgboost (BentoML's ``bentoml.xgboost``)."""

from bentonb.frameworks.xgboost import get, load_model, save_model

__all__ = ["get", "load_model", "save_model"]
