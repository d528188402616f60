"""Earlier import paths of the artifact classes, kept working: ``bentonb.artifacts`` and
``bentonb.artifacts.<module>`` (``base``, ``by_value``, ``json``, ``keras``, ``pickle``,
``pytorch``, ``sklearn``, ``spacy``, ``xgboost``).

The code lives in :mod:`bentonb.frameworks`. Each old submodule name is made an
alias of the framework module that replaced it, so every path gives the very
same module and class objects. Nothing here may hold code of its own.
"""

import sys

from bentonb.frameworks import *  # noqa: F403
from bentonb.frameworks import (
    __all__,  # noqa: F401
    base,
    json,
    keras,
    picklable,
    pytorch,
    sklearn,
    spacy,
    xgboost,
)

by_value = base
pickle = picklable

for _old, _module in {"base": base, "by_value": by_value, "json": json, "keras": keras,
                      "pickle": pickle, "pytorch": pytorch, "sklearn": sklearn, "spacy": spacy,
                      "xgboost": xgboost}.items():
    sys.modules[f"{__name__}.{_old}"] = _module
del _old, _module
