import numpy as np
import pytest
import torch

import explorer as ex


def test_one_hot_round_trip_and_shape():
    x = ex.one_hot_encode("ACGTacgt")
    assert x.dtype == torch.float32 and x.shape == (4, 8)
    assert torch.equal(x[:, :4], torch.eye(4)) and torch.equal(x[:, 4:], torch.eye(4))
    assert ex.one_hot_decode(x) == "ACGTACGT"


def test_batch_encoding():
    x = ex.one_hot_encode(["AAC", "GTT"])
    assert x.shape == (2, 4, 3)
    assert ex.one_hot_decode(x) == ["AAC", "GTT"]


def test_n_and_iupac_are_zero_columns():
    x = ex.one_hot_encode("ANRYt")
    assert x[:, 1:4].sum() == 0
    assert x[:, 0].tolist() == [1, 0, 0, 0] and x[:, 4].tolist() == [0, 0, 0, 1]
    assert ex.one_hot_decode(x) == "ANNNT"


@pytest.mark.parametrize("seq, char, pos", [("ACGX", "X", 4), ("A-CG", "-", 2), ("ACGTÄ", "Ä", 5), ("AC GT", " ", 3)])
def test_invalid_character_named_with_1_based_position(seq, char, pos):
    with pytest.raises(ValueError) as err:
        ex.one_hot_encode(seq)
    assert repr(char) in str(err.value) and f"position {pos} (1-based)" in str(err.value)


def test_unequal_lengths_rejected():
    with pytest.raises(ValueError, match="same length"):
        ex.one_hot_encode(["AC", "ACG"])


def test_validate_strips_whitespace_and_rejects_empty():
    assert ex.validate_sequence("ac gt\nNN") == "ACGTNN"
    with pytest.raises(ValueError, match="empty"):
        ex.validate_sequence("  \n")


def test_reverse_complement_string_and_tensor():
    assert ex.reverse_complement("AACGTN") == "NACGTT"
    assert ex.reverse_complement("acgR") == "Ycgt"
    x = ex.one_hot_encode("AACGTT")
    assert ex.one_hot_decode(ex.reverse_complement(x)) == "AACGTT"
    y = ex.one_hot_encode("AAAC")
    assert ex.one_hot_decode(ex.reverse_complement(y)) == "GTTT"


def test_dinucleotide_shuffle_is_seeded_and_keeps_dinucleotides():
    seq = "ACGTTGCAAGGCTTACGATCGATCGGGCTAAATTTCGCGA"
    a = ex.dinucleotide_shuffle(seq, n=5, random_state=7)
    b = ex.dinucleotide_shuffle(seq, n=5, random_state=7)
    assert a.shape == (5, 4, len(seq)) and torch.equal(a, b)

    def dinucs(s):
        return sorted(s[i:i + 2] for i in range(len(s) - 1))

    shuffled = ex.one_hot_decode(a)
    assert any(s != seq for s in shuffled)
    for s in shuffled:
        assert dinucs(s) == dinucs(seq)
        assert s[0] == seq[0] and s[-1] == seq[-1]


def test_shuffle_rejects_bad_n():
    with pytest.raises(ValueError, match="n must be >= 1"):
        ex.dinucleotide_shuffle("ACGTACGT", n=0)


def test_decode_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"\(4, L\)"):
        ex.one_hot_decode(np.zeros((3, 5)))
