"""Serve the explorer on the sample model and locus: ``panel serve app.py`` (or ``make demo``).

Files the page may read: ``sample_data/`` plus the folders in ``$EXPLORER_DATA_DIRS``
(separated by ``:``).
"""

import explorer as ex

ex.Explorer().servable()
