import json
import zipfile

import pytest
import torch
from torch import nn

import explorer as ex
from explorer.io.models import ModelLoadError
from explorer.io.registry import ARCHITECTURES
from explorer.nets import SampleCNN

CARD = {"tasks": ["CTCF", "SPI1"], "min_length": 100, "name": "tiny"}


@pytest.fixture()
def tiny():
    torch.manual_seed(0)
    return SampleCNN(n_tasks=2, channels=8)


def test_checkpoint_and_torchscript_agree(tmp_path, tiny):
    ex.save_checkpoint(tiny, tmp_path / "m.pt", CARD)
    ex.export_torchscript(tiny, tmp_path / "m.ts.pt", CARD)
    a = ex.load_model(tmp_path / "m.pt", device="cpu")
    b = ex.load_model(tmp_path / "m.ts.pt", device="cpu")
    assert a.tasks == b.tasks == ["CTCF", "SPI1"]
    assert (a.kind, b.kind) == ("checkpoint", "torchscript")
    assert not a.training and not b.training
    x = torch.rand(3, 4, 250)
    with torch.no_grad():
        assert torch.allclose(a(x), b(x), atol=1e-6)
        assert torch.allclose(a(x), tiny.eval()(x), atol=1e-6)
    assert a.min_length == 100 and a.input_length is None
    assert a.content_hash() == ex.load_model(tmp_path / "m.pt", device="cpu").content_hash()


def test_checkpoint_is_weights_only_loadable(tmp_path, tiny):
    ex.save_checkpoint(tiny, tmp_path / "m.pt", CARD)
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    assert payload["architecture"] == "sample_cnn" and payload["card"]["tasks"] == CARD["tasks"]


def test_full_pickle_needs_trust(tmp_path, tiny):
    tiny.model_card = CARD
    torch.save(tiny, tmp_path / "full.pt")
    with pytest.raises(ModelLoadError, match="full Python pickle.*trusted=True"):
        ex.load_model(tmp_path / "full.pt")
    model = ex.load_model(tmp_path / "full.pt", trusted=True, device="cpu")
    assert model.tasks == ["CTCF", "SPI1"] and model.kind == "pickle"


def test_file_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.pt").write_text("just text")
    with pytest.raises(ModelLoadError, match="not a PyTorch model file"):
        ex.load_model(tmp_path / "notes.pt")
    with pytest.raises(FileNotFoundError):
        ex.load_model(tmp_path / "missing.pt")
    torch.save({"a": [1, 2]}, tmp_path / "dict.pt")
    with pytest.raises(ModelLoadError, match="not a model"):
        ex.load_model(tmp_path / "dict.pt")


def test_bare_state_dict_explains_what_to_do(tmp_path, tiny):
    torch.save(tiny.state_dict(), tmp_path / "sd.pt")
    with pytest.raises(ModelLoadError, match="bare state_dict.*save_checkpoint"):
        ex.load_model(tmp_path / "sd.pt")


def test_unknown_architecture_lists_registered(tmp_path, tiny):
    ex.save_checkpoint(tiny, tmp_path / "m.pt", CARD)
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    payload["architecture"] = "no_such_net"
    torch.save(payload, tmp_path / "m2.pt")
    with pytest.raises(ModelLoadError, match="'no_such_net', which is not registered.*sample_cnn"):
        ex.load_model(tmp_path / "m2.pt")


def test_weights_that_do_not_fit(tmp_path, tiny):
    ex.save_checkpoint(tiny, tmp_path / "m.pt", CARD)
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    payload["config"]["channels"] = 16
    torch.save(payload, tmp_path / "m2.pt")
    with pytest.raises(ModelLoadError, match="do not fit"):
        ex.load_model(tmp_path / "m2.pt")


def test_output_shape_must_fit_tasks(tmp_path, tiny):
    ex.export_torchscript(tiny, tmp_path / "m.ts.pt", {**CARD, "tasks": ["A", "B", "C"]})
    with pytest.raises(ModelLoadError, match="returns 2 output channels.*names 3 tasks"):
        ex.load_model(tmp_path / "m.ts.pt")


def test_model_that_is_not_a_sequence_model(tmp_path):
    net = torch.jit.script(nn.Sequential(nn.Flatten(), nn.Linear(10, 2)))
    torch.jit.save(net, str(tmp_path / "lin.pt"), _extra_files={"model_card.json": json.dumps(CARD)})
    # the card claims 100 bp: the model's own error is quoted, TorchScript's wrapping removed
    with pytest.raises(ModelLoadError, match=r"fails on the given minimum length of 100 bp: RuntimeError: "
                                             r"mat1 and mat2 shapes cannot be multiplied \(1x400 and 10x2\)"):
        ex.load_model(tmp_path / "lin.pt")
    torch.jit.save(net, str(tmp_path / "lin2.pt"))  # no card: every length is tried, none fits
    with pytest.raises(ModelLoadError, match=r"failed on every input length tried \(.*1,000.*\). Its own "
                                             r"error at 1,000 bp: RuntimeError: mat1 and mat2 shapes"):
        ex.load_model(tmp_path / "lin2.pt")


def test_torchscript_without_card_loads_with_found_names(tmp_path, tiny):
    torch.jit.save(torch.jit.script(tiny), str(tmp_path / "nocard.pt"))
    found = ex.load_model(tmp_path / "nocard.pt")
    # SampleCNN: 'same' padding and a global max, so any length works down to 1 bp
    assert found.tasks == ["task 0", "task 1"] and found.input_length is None and found.min_length == 1
    assert "takes any length from 1 bp" in found.report and "returns 2 scores" in found.report
    model = ex.load_model(tmp_path / "nocard.pt", tasks=["a", "b"], card={"min_length": 100})
    assert model.tasks == ["a", "b"] and model.min_length == 100
    assert zipfile.is_zipfile(tmp_path / "nocard.pt")


def test_length_checks(tiny):
    model = ex.ExplorerModel(tiny, CARD)
    model.check_length(100)
    with pytest.raises(ValueError, match="at least 100 bp; got 50 bp"):
        model.check_length(50)
    fixed = ex.ExplorerModel(tiny, {**CARD, "input_length": 1000})
    with pytest.raises(ValueError, match="exactly 1000 bp"):
        fixed.check_length(999)


def test_register_architecture():
    @ex.register_architecture("test_arch_for_registry")
    class Net(nn.Module):
        pass

    assert ARCHITECTURES["test_arch_for_registry"] is Net
    with pytest.raises(ModelLoadError, match="not a registered architecture"):
        ex.save_checkpoint(nn.Linear(2, 2), "/tmp/never-written.pt", CARD)


def test_random_bytes_are_not_called_a_pickle(tmp_path):
    (tmp_path / "noise.pt").write_bytes(bytes(range(256)) * 3)
    with pytest.raises(ModelLoadError, match="not a PyTorch model file .*neither a zip"):
        ex.load_model(tmp_path / "noise.pt")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
def test_cuda_asked_for_on_a_cpu_machine(tmp_path, tiny):
    ex.save_checkpoint(tiny, tmp_path / "m.pt", CARD)
    with pytest.raises(ModelLoadError, match="no CUDA device .*use device='cpu'"):
        ex.load_model(tmp_path / "m.pt", device="cuda")
