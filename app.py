"""Serve the explorer on the sample model and locus: ``panel serve app.py`` (or ``make demo``).

Files the page may read: ``sample_data/`` plus the folders in ``$EXPLORER_DATA_DIRS``
(separated by ``:``), and the files a session uploads (into its own folder in the cache).
``$EXPLORER_RESULTS``: the output folder of a batch run (``python -m explorer attribute --out
DIR``), whose regions the sidebar then lists, ranked; its model and genome must lie in those folders.
Uploads travel over the websocket: serve with ``--websocket-max-message-size 300000000`` (as
``make demo`` does) to accept files up to the limits of :data:`explorer.ui.files.UPLOAD_LIMITS`.
"""

import os

import explorer as ex
from explorer.ui.app import warm_in_background

warm_in_background()
ex.Explorer(results=os.environ.get("EXPLORER_RESULTS") or None).servable()
