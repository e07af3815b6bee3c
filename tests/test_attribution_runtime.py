"""The ISM input layer (runtime) and typed diagnostics: one rule each, round trips."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from explorer.attribution.diagnostics import Diagnostics
from explorer.attribution.result import Attribution, IsmResult
from explorer.attribution.runtime import (
    check_fast,
    check_one_hot,
    check_window,
    model_device,
    mutant_batch,
    mutations,
    run_with_fallback,
    running_on,
    self_check,
    tolerance,
)


def test_diagnostics_mapping_view_and_json_round_trip():
    d = Diagnostics(reference_score=1.25, ism_path="fast", warnings=["w"], extra={"n_steps": 64})
    assert d["reference_score"] == pytest.approx(1.25) and d.get("completeness_error") is None
    assert "ism_path" in d and "completeness_error" not in d and "n_steps" in d
    with pytest.raises(KeyError):
        d["fast_ism_max_abs_diff"]
    back = Diagnostics.from_dict(json.loads(json.dumps(d.to_dict())))
    assert back == d and back.extra == {"n_steps": 64} and back.reference_score == pytest.approx(1.25)


def test_diagnostics_update_appends_warnings_and_keeps_unknown_names():
    d = Diagnostics(warnings=["a"])
    d.update({"warnings": ["b"], "fast_ism": True, "partial": True})
    assert d.warnings == ["a", "b"] and d.fast_ism is True and d["partial"] is True


def test_attribution_turns_a_dict_into_diagnostics():
    a = Attribution(values=torch.zeros(4, 3), one_hot=torch.zeros(4, 3), method="ism", target="t",
                    diagnostics={"partial": True, "warnings": []})
    assert isinstance(a.diagnostics, Diagnostics) and a.diagnostics["partial"] is True


def test_input_checks_name_the_rule():
    assert check_one_hot(torch.zeros(1, 4, 5)).shape == (4, 5)
    with pytest.raises(ValueError, match="transposed"):
        check_one_hot(torch.zeros(5, 4))
    with pytest.raises(ValueError, match="0 <= start < end <= length"):
        check_window(10, 5, 12)
    with pytest.raises(ValueError, match="empty"):
        check_window(10, 5, 5)
    with pytest.raises(ValueError, match="fast must be True, False or 'auto'"):
        check_fast("yes")


def test_mutations_position_major_and_n_columns():
    x = torch.zeros(4, 3)
    x[0, 0] = x[2, 2] = 1.0  # A, N, G
    m = mutations(x, torch.arange(0, 3))
    assert m.positions.tolist() == [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]
    assert m.bases.tolist() == [1, 2, 3, 0, 1, 2, 3, 0, 1, 3]
    assert m.columns.tolist() == m.positions.tolist()
    batch = mutant_batch(x, m.positions, m.bases)
    assert batch.shape == (10, 4, 3) and torch.all(batch[torch.arange(10), m.bases, m.positions] == 1.0)
    assert torch.all(batch.sum(1)[torch.arange(10), m.positions] == 1.0)


def test_running_on_restores_every_submodule_flag_also_on_error():
    net = nn.Sequential(nn.Conv1d(4, 2, 3), nn.Dropout(), nn.ReLU())
    net.train()
    net[1].eval()
    with pytest.raises(RuntimeError):
        with running_on(net, torch.device("cpu")):
            assert not any(m.training for m in net.modules())
            raise RuntimeError("boom")
    assert [m.training for m in net.modules()] == [True, True, False, True]
    assert model_device(nn.ReLU()) == torch.device("cpu")


def test_self_check_tolerance_scales_with_the_reference():
    d = Diagnostics()
    assert tolerance(50.0) == pytest.approx(5e-3) and tolerance(0.1) == pytest.approx(1e-4)
    assert self_check(d, torch.zeros(4, 2), torch.full((4, 2), 4e-3), [3, 7], 50.0)
    assert d.fast_ism_max_abs_diff == pytest.approx(4e-3) and d.fast_ism_verified_positions == [3, 7]
    assert not self_check(d, torch.zeros(4, 2), torch.full((4, 2), 4e-3), [3, 7], 1.0)


def test_fallback_rule():
    plain = lambda: IsmResult(torch.zeros(4, 2), 0.5, Diagnostics(ism_path="plain", reference_score=0.5))

    def no_structure():
        raise NotImplementedError("no structure")

    res = run_with_fallback("auto", no_structure, plain)
    assert res.diagnostics.ism_path == "plain" and res.diagnostics.warnings == []
    res = run_with_fallback(True, no_structure, plain)
    assert any("does not apply" in w for w in res.diagnostics.warnings)
    res = run_with_fallback("auto", lambda: (torch.ones(4, 2), 2.0, {"fast_ism": True}), plain)
    assert res.diagnostics.ism_path == "fast" and res.diagnostics.fast_ism is True
    assert res.reference_score == pytest.approx(2.0)
