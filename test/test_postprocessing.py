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
