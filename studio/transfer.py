"""Compatibility alias: the colour math now lives in :mod:`studio.media.transfer`.

``from studio import transfer`` keeps working for the other packages while they move over;
this module *is* :mod:`studio.media.transfer` (same object, private names included).
"""

import sys

from studio.media import transfer as _transfer

sys.modules[__name__] = _transfer
