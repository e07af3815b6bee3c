"""Progressive ISM through explorer.attribute: chunks arrive view-first and add up to the exact map."""

import pytest
import torch

import explorer as ex
from explorer.attribution.progress import Cancelled
from explorer.nets import SampleCNN

CARD = {"tasks": ["a", "b"], "min_length": 100,
        "structure": {"trunk": "trunk", "pool": "max", "final": "linear", "receptive_field": 67}}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(3)
    return ex.ExplorerModel(SampleCNN(channels=16), CARD)


@pytest.fixture(scope="module")
def sequence():
    g = torch.Generator().manual_seed(1)
    return "".join("ACGT"[i] for i in torch.randint(0, 4, (700,), generator=g))


def test_chunks_cover_the_window_view_first_and_equal_plain_ism(model, sequence):
    chunks = []
    res = ex.attribute(model, sequence, method="ism", target="a", start=50, end=650, cache=False,
                       on_chunk=lambda a, b, v: chunks.append((a, b, v.clone())), view=(300, 360))
    plain = ex.attribute(model, sequence, method="ism", target="a", start=50, end=650, cache=False, fast=False)
    assert chunks[0][:2] == (300, 360)
    covered = sorted((a, b) for a, b, _ in chunks)
    assert covered[0][0] == 50 and covered[-1][1] == 650
    assert all(b1 == a2 for (_, b1), (a2, _) in zip(covered, covered[1:]))
    assert torch.allclose(res.values, plain.values, atol=1e-5)
    for a, b, v in chunks:
        assert torch.allclose(v, plain.values[:, a - 50:b - 50], atol=1e-5)
    assert res.diagnostics["reference_score"] == pytest.approx(plain.diagnostics["reference_score"], abs=1e-5)


def test_a_cache_hit_reports_one_chunk(model, sequence):
    ex.attribute(model, sequence, method="ism", target="b", start=0, end=200)
    chunks = []
    hit = ex.attribute(model, sequence, method="ism", target="b", start=0, end=200,
                       on_chunk=lambda a, b, v: chunks.append((a, b)))
    assert hit.diagnostics["cache_hit"] and chunks == [(0, 200)]


def test_progressive_ism_can_be_cancelled(model, sequence):
    chunks = []
    with pytest.raises(Cancelled):
        ex.attribute(model, sequence, method="ism", target="a", cache=False,
                     on_chunk=lambda a, b, v: chunks.append((a, b)), progress=lambda f: f < 0.3)
    assert 0 < len(chunks) < 4
