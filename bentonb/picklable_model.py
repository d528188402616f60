"""``bentonb.picklable_model``: the 1.x model functions for any picklable object."""

from bentonb.frameworks.picklable import get, load_model, save_model

__all__ = ["get", "load_model", "save_model"]
