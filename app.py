"""Serve the explorer on the sample model and locus: ``panel serve app.py`` (or ``make demo``).

Files the page may read: ``sample_data/`` plus the folders in ``$EXPLORER_DATA_DIRS``
(separated by ``:``).
"""

import explorer as ex
from explorer.ui.app import warm_in_background

warm_in_background()
ex.Explorer().servable()
