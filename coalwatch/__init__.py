"""coalwatch: count ore cars, bulk carriers and coal heaps in satellite imagery.

The package face is light: importing it loads no torch. The torch world lives in
``coalwatch.model`` and ``coalwatch.train``; the light world in ``coalwatch.labels``
and ``coalwatch.infer``.
"""

from coalwatch.errors import CoalwatchError, InputError

__version__ = "0.1.0"

__all__ = ["CoalwatchError", "InputError", "__version__"]
