"""``bentonb.pytorch``: the 1.x model functions for pytorch (BentoML's ``bentoml.pytorch``)."""

from bentonb.frameworks.pytorch import get, load_model, save_model

__all__ = ["get", "load_model", "save_model"]
