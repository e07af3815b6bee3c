"""A tiny random Hugging Face masked LM (single-nucleotide vocabulary) saved to a temp folder loads
from the folder alone and its masked ISM equals brute force on the transformers model itself."""

from __future__ import annotations

import pytest
import torch

import explorer as ex

transformers = pytest.importorskip("transformers")

VOCAB = ["<cls>", "<pad>", "<eos>", "<unk>", "A", "C", "G", "T", "N", "<mask>"]


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-esm-dna")
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    tokenizer = transformers.EsmTokenizer(vocab_file=str(folder / "vocab.txt"))
    config = transformers.EsmConfig(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                    intermediate_size=32, max_position_embeddings=80, pad_token_id=1,
                                    mask_token_id=9, position_embedding_type="rotary", token_dropout=False)
    torch.manual_seed(0)
    model = transformers.EsmForMaskedLM(config).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _brute_force(model, tokenizer, seq: str) -> torch.Tensor:
    """LLR by tokenizing each masked string with the model's own tokenizer, one at a time."""
    ids_acgt = [tokenizer.convert_tokens_to_ids(b) for b in "ACGT"]
    out = torch.zeros(4, len(seq), dtype=torch.float64)
    with torch.no_grad():
        for i in range(len(seq)):
            text = seq[:i] + tokenizer.mask_token + seq[i + 1:]
            enc = tokenizer(text, return_tensors="pt")
            at = enc["input_ids"][0].tolist().index(tokenizer.mask_token_id)
            logits = model(**enc).logits[0, at, ids_acgt].double()
            lp = torch.log_softmax(logits, 0)
            out[:, i] = lp - lp["ACGT".index(seq[i])]
    return out


def test_folder_loads_without_the_hub_and_scores_like_brute_force(hf_folder, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = ex.load_model(hf_folder, device="cpu")
    assert model.card["kind"] == "masked_lm" and model.card["format"] == "huggingface"
    assert model.card["max_length"] == 78  # 80 positions less <cls> and <eos>
    assert ex.methods_for(model) == ["ism", "masked_distribution"]
    seq = "ACGTTGCAAGGCTTAACGTACGATCGATCGGCTA"
    res = ex.attribute(model, seq, method="ism", cache=False)
    hf = transformers.AutoModelForMaskedLM.from_pretrained(hf_folder, local_files_only=True).eval()
    tok = transformers.AutoTokenizer.from_pretrained(hf_folder, local_files_only=True)
    expected = _brute_force(hf, tok, seq)
    torch.testing.assert_close(res.values.double(), expected, atol=1e-4, rtol=0)
    assert res.diagnostics["ism_path"] == "full"


def test_longer_than_the_model_is_scored_in_windows(hf_folder):
    model = ex.load_model(hf_folder, device="cpu")
    g = torch.Generator().manual_seed(1)
    seq = "".join("ACGT"[i] for i in torch.randint(0, 4, (100,), generator=g))
    res = ex.attribute(model, seq, method="masked_distribution", cache=False)
    assert res.values.shape == (4, 100)
    assert any("at most 78 bp" in w for w in res.diagnostics["warnings"])
    assert torch.isfinite(torch.tensor(res.diagnostics["reference_log_prob"])).all()


def test_kmer_tokenizer_is_refused_in_words(tmp_path):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [a + b + c for a in "ACGT" for b in "ACGT" for c in "ACGT"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tok = transformers.BertTokenizer(vocab_file=str(tmp_path / "vocab.txt"), do_lower_case=False)
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
                                     intermediate_size=16, max_position_embeddings=32)
    transformers.BertForMaskedLM(config).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    with pytest.raises(ex.ModelLoadError, match="single-nucleotide"):
        ex.load_model(tmp_path, device="cpu")


def test_a_folder_that_is_not_a_model_is_refused(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "not-a-model"}')
    with pytest.raises(ex.ModelLoadError, match="could not be loaded"):
        ex.load_model(tmp_path, device="cpu")
