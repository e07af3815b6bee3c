"""What a predicted-vs-measured comparison means, in words: judged from n, r, p and the card."""

import numpy as np
import pandas as pd
import pytest

from explorer.variants import Comparison, judge_comparison, output_kind


def _cmp(n, r, p):
    return Comparison(pairs=pd.DataFrame(), task="CTCF", value="diff", n=n, pearson=r, pearson_p=p,
                      spearman=r, spearman_p=p)


def test_output_kind_is_optional_and_never_guessed():
    assert output_kind({"name": "sample_cnn", "description": "ChIP-seq peaks"}) is None
    assert output_kind({"output_kind": "Binding "}) == "binding"
    assert output_kind({"output_kind": "banana"}) is None
    assert output_kind(None) is None


def test_a_significant_positive_correlation_is_agreement():
    text = judge_comparison(_cmp(200, 0.62, 1e-20), output_kind="activity")
    assert "agree with the measured ones (strongly; r = 0.62, p = 1e-20, n = 200)" in text
    assert "supports the model" in text


def test_no_significant_correlation_is_not_called_agreement():
    text = judge_comparison(_cmp(561, 0.07, 0.084), output_kind="activity")
    assert "no significant agreement" in text and "r = 0.07, p = 0.084, n = 561" in text
    assert "evidence against the model" in text  # an activity model should track an activity assay


def test_a_binding_model_on_an_activity_assay_is_not_blamed_for_a_weak_correlation():
    text = judge_comparison(_cmp(561, 0.07, 0.084), output_kind="binding", assay="activity")
    assert "predicts binding of a factor" in text and "measures regulatory activity" in text
    assert "does not by itself show the model is wrong" in text
    assert "expected, true result" not in text


def test_undeclared_output_kind_says_what_is_known():
    text = judge_comparison(_cmp(561, 0.07, 0.084), description="Does a sequence hold a CTCF peak?")
    assert "does not declare what the model's output measures" in text
    assert "\u201cDoes a sequence hold a CTCF peak?\u201d" in text


def test_negative_and_too_small_comparisons():
    assert "run against the measured ones (moderate negative" in judge_comparison(_cmp(100, -0.4, 1e-5))
    small = judge_comparison(_cmp(12, 0.2, 0.5))
    assert "only a strong correlation could show" in small
    assert "cannot say" in judge_comparison(_cmp(2, np.nan, np.nan))
