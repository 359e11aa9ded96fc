"""Compatibility alias: the colour math now lives in :mod:`studio.media.transfer`.

``from studio import transfer`` keeps working for the other packages while they move over;
at run time this module *is* :mod:`studio.media.transfer` (same object, private names
included); the star import is what type checkers and readers see.
"""

import sys

from studio.media import transfer as _transfer
from studio.media.transfer import *  # noqa: F403

sys.modules[__name__] = _transfer
