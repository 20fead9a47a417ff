# Copyright 2026 The dla_infer_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Softmax, top-k and threshold."""

import numpy as np
import pytest

from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.postprocessing import Postprocessor


def test_softmax_topk_sorted_with_labels() -> None:
    post = Postprocessor(4, ['a', 'b', 'c', 'd'], 'logits', top_k=3)
    results = post.process(np.array([[1.0, 3.0, 2.0, 0.0]], dtype=np.float32))
    assert [r[1] for r in results] == ['b', 'c', 'a']
    expected = np.exp([3.0, 2.0, 1.0]) / np.exp([1.0, 3.0, 2.0, 0.0]).sum()
    assert np.allclose([r[2] for r in results], expected, atol=1e-6)


def test_probabilities_are_not_renormalised_and_threshold_applies() -> None:
    post = Postprocessor(3, (), 'probabilities', top_k=3, score_threshold=0.25)
    results = post.process(np.array([0.2, 0.5, 0.3], dtype=np.float32))
    assert results == [(1, '1', pytest.approx(0.5)), (2, '2', pytest.approx(0.3))]


def test_top_k_change_takes_effect_next_call() -> None:
    post = Postprocessor(5, (), 'logits', top_k=5)
    row = np.arange(5, dtype=np.float32)
    assert len(post.process(row)) == 5
    post.top_k = 2
    assert [r[0] for r in post.process(row)] == [4, 3]


def test_top_k_larger_than_classes_is_clamped() -> None:
    post = Postprocessor(2, (), 'logits', top_k=10)
    assert len(post.process(np.array([0.0, 1.0], dtype=np.float32))) == 2


@pytest.mark.parametrize('kwargs,match', [
    ({'top_k': 0}, 'top_k=0'),
    ({'score_threshold': 1.5}, 'score_threshold=1.5'),
    ({'output_kind': 'boxes'}, 'output_kind'),
    ({'labels': ['x']}, '1 labels given for a model of 3 classes'),
])
def test_bad_settings_rejected(kwargs: dict, match: str) -> None:
    with pytest.raises(DlaInferError, match=match):
        Postprocessor(3, **kwargs)


def test_wrong_size_and_nan_rejected() -> None:
    post = Postprocessor(3)
    with pytest.raises(DlaInferError, match='4 values, expected 3'):
        post.process(np.zeros(4, dtype=np.float32))
    with pytest.raises(DlaInferError, match='NaN'):
        post.process(np.array([0.0, np.nan, 1.0], dtype=np.float32))


def plain_top_k(row: np.ndarray, kind: str, k: int) -> list:
    """Softmax (for logits) over every class, partition, sort: the results as they always were."""
    scores = row.astype(np.float32)
    if kind == 'logits':
        scores = np.exp(scores - scores.max())
        scores /= scores.sum()
    best = np.argpartition(-scores, k - 1)[:k]
    best = best[np.argsort(-scores[best], kind='stable')]
    return [(int(i), str(i), float(scores[i])) for i in best]


@pytest.mark.parametrize('kind', ['logits', 'probabilities'])
@pytest.mark.parametrize('k', [1, 5, 8, 9, 20])
def test_results_equal_the_plain_softmax_and_sort(kind: str, k: int) -> None:
    rng = np.random.default_rng(11)
    post = Postprocessor(1000, (), kind, top_k=k)
    for trial in range(40):
        row = rng.normal(0.0, 3.0, 1000).astype(np.float32)
        if trial % 2:
            row = np.round(row)  # many equal scores: the order among them is kept as well
        if kind == 'probabilities':
            row = np.exp(row) / np.exp(row).sum()
        results = post.process(row[None])
        assert results == plain_top_k(row, kind, k)
        assert all(type(i) is int and type(p) is float for i, _, p in results)


def test_tied_scores_are_all_reported_equal() -> None:
    post = Postprocessor(6, (), 'logits', top_k=3)
    results = post.process(np.array([0.0, 2.0, 1.0, 2.0, 2.0, 1.0], dtype=np.float32))
    assert sorted(i for i, _, _ in results) == [1, 3, 4]
    assert results[0][2] == results[1][2] == results[2][2]


@pytest.mark.parametrize('dtype', [np.float16, np.float64])
def test_other_output_types_score_as_float32(dtype: type) -> None:
    row = np.random.default_rng(4).normal(0.0, 2.0, 20)
    post = Postprocessor(20, (), 'logits', top_k=4)
    expected = post.process(row.astype(dtype).astype(np.float32))
    assert post.process(row.astype(dtype)) == expected


def test_threshold_is_compared_in_float32() -> None:
    # float32(0.7) is just below 0.7: a score of exactly that value passes threshold 0.7.
    post = Postprocessor(2, (), 'probabilities', top_k=2, score_threshold=0.7)
    results = post.process(np.array([0.3, 0.7], dtype=np.float32))
    assert [i for i, _, _ in results] == [1]


@pytest.mark.parametrize('kind', ['logits', 'probabilities'])
@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
def test_non_finite_values_rejected(kind: str, bad: float) -> None:
    post = Postprocessor(4, (), kind)
    for where in range(4):
        row = np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32)
        row[where] = bad
        with pytest.raises(DlaInferError, match='model output contains NaN or infinite values'):
            post.process(row)


def test_values_beyond_float32_rejected_and_extreme_finite_logits_accepted() -> None:
    post = Postprocessor(3)
    with pytest.raises(DlaInferError, match='NaN or infinite'), np.errstate(over='ignore'):
        post.process(np.array([0.0, 1e39, 1.0]))  # float64, infinite as float32
    big = np.finfo(np.float32).max
    with np.errstate(over='ignore'):  # -big - big is -inf, whose exp is 0
        results = post.process(np.array([-big, big, 0.0], dtype=np.float32))
    assert results[0] == (1, '1', 1.0) and {r[0] for r in results[1:]} == {0, 2}
    assert results[1][2] == results[2][2] == 0.0
