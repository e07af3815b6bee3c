"""ISM cost before a run: passes, time of one pass, the limit and its refusal."""

import pytest
import torch

import explorer as ex
from explorer.attribution.cost import check_ism_cost, ism_cost, ism_limit
from explorer.io.models import ExplorerModel
from explorer.nets import SampleCNN


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(0)
    return ExplorerModel(SampleCNN(n_tasks=2, channels=8), {"tasks": ["CTCF", "SPI1"], "min_length": 100})


def test_cost_counts_three_runs_per_base_and_times_one(cnn):
    cost = ism_cost(cnn, 10, 60, length=200)
    assert cost.n_mutants == 150 and cost.input_length == 200 and cost.limit is None and cost.allowed
    assert cost.seconds_per_pass > 0 and cost.seconds == pytest.approx(150 * cost.seconds_per_pass)
    assert cost.describe().startswith("ISM runs the model 150 times on 200 bp, about")
    assert ism_cost(cnn, 0, 10, length=200, time_one=False).seconds is None


def test_limit_refuses_with_what_to_do_and_can_be_raised(cnn):
    x = torch.nn.functional.one_hot(torch.arange(200) % 4, 4).T.float()
    with pytest.raises(ValueError, match=r"ISM of a 40 bp window refused: .*120 times.*limit of 60 runs \(20 bp\): "
                                         r"choose a sub-window of at most 20 bp.*max_mutants=120"):
        ex.attribute(cnn, x, method="ism", target="CTCF", start=0, end=40, max_mutants=60, cache=False)
    assert ex.attribute(cnn, x, method="ism", target="CTCF", start=0, end=20, max_mutants=60,
                        cache=False).values.shape == (4, 20)
    check_ism_cost(cnn, 0, 1000, 1000)  # the sample model has no limit
    with pytest.raises(ValueError, match=r"max_mutants must be a positive number of model runs; got 0"):
        ism_limit(cnn, 0)
    with pytest.raises(ValueError, match=r"0 <= start < end; got start=5, end=5"):
        ism_cost(cnn, 5, 5)
