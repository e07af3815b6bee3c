"""The regions of a batch run (``python -m explorer attribute --out DIR``), ranked, in the sidebar.

A table of the run's regions, best first by the model's score or by seqlet count
(:func:`explorer.batch.ranked_regions`); clicking a row opens that region in the usual
linked views: the run's model and genome file are loaded (they must lie in the folders the
app may read), the region, method and task are set, and the app computes the map with the
same :func:`explorer.attribute` call the run made. No science here.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import panel as pn
import param

import explorer as ex
from explorer.batch.results import RANKINGS, ranked_regions, region_request

#: columns shown in the table
SHOWN = ["name", "region", "score", "n_seqlets", "status"]


class BatchRegions(pn.viewable.Viewer):
    """Ranked regions of a batch run; a click opens one in the explorer's state."""

    by = param.Selector(default="score", objects=list(RANKINGS), label="Rank regions by")

    def __init__(self, state, out: str | Path, **params):
        super().__init__(**params)
        self.state = state
        self.out = Path(out)
        self.table = pn.widgets.Tabulator(self._frame(), show_index=False, disabled=True, height=260,
                                          pagination="remote", page_size=50, sizing_mode="stretch_width")
        self.table.on_click(lambda event: self.open(int(self._ranked.iloc[event.row]["index"])))
        self.param.watch(lambda event: setattr(self.table, "value", self._frame()), "by")

    def _frame(self):
        try:
            self._ranked = ranked_regions(self.out, self.by)
        except ValueError as exc:
            self.state.say(str(exc), "warning")
            self._ranked = pd.DataFrame(columns=["index"])
            return self._ranked.reindex(columns=SHOWN)
        shown = self._ranked.assign(region=[f"{c}:{s + 1:,}-{e:,}" for c, s, e in
                                            zip(self._ranked["chrom"], self._ranked["start"], self._ranked["end"])])
        return shown[SHOWN]

    def open(self, index: int) -> bool:
        """Open region ``index`` (a row of ``regions.tsv``): model, genome, region, method, task."""
        try:
            request = region_request(self.out, index)
        except ValueError as exc:
            self.state.say(str(exc), "warning")
            return False
        s = self.state
        if Path(s.model_path).resolve() != Path(request["model"]) or s.model is None:
            s.model_path = request["model"]
            if not s.load_model():
                return False
        reg = ex.parse_region(request["region"])
        loaded = s.locus is not None and s.locus.source not in ("", "<pasted>") and \
            str(Path(s.locus.source).resolve()) == request["genome"] and s.locus.chrom == reg.chrom and \
            s.locus.start <= reg.start and reg.end <= s.locus.end
        with param.parameterized.discard_events(s):  # no half-set state reaches the watchers
            s.param.update(locus_path=request["genome"], region=request["region"], pasted_sequence="")
        if not (s.set_region() if loaded else s.load_locus()):
            return False
        s.param.trigger("locus_path", "region")  # the widgets show the new values
        s.param.update(method=request["method"], task=request["target"])
        return True

    def __panel__(self):
        return pn.Column(pn.widgets.RadioButtonGroup.from_param(self.param.by), self.table,
                         sizing_mode="stretch_width")
