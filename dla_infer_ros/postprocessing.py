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

"""Model output -> sorted (class index, label, score) results."""

import math
from operator import itemgetter
from typing import List, Optional, Sequence, Tuple

import numpy as np

from dla_infer_ros.errors import DlaInferError

Result = Tuple[int, str, float]

#: Up to this many results are picked one by one (argmin), which costs less than a partition
#: of the whole row, above all right after inference, when the caches are cold.
PICK_ONE_BY_ONE = 8


class Postprocessor:
    """
    Softmax (when the model emits logits), top-k and a score threshold.

    ``top_k`` and ``score_threshold`` may change between frames. The scores
    buffer is allocated once, for the number of classes.
    """

    def __init__(self, num_classes: int, labels: Sequence[str] = (), output_kind: str = 'logits',
                 top_k: int = 5, score_threshold: float = 0.0) -> None:
        """
        Check the settings and allocate the scores buffer.

        :param num_classes: length of one output row.
        :param labels: one label per class, or empty to use the class index.
        :param output_kind: ``logits`` (softmax applied here) or ``probabilities``.
        :param top_k: how many results to keep at most.
        :param score_threshold: drop results scoring below this.
        :raises DlaInferError: on inconsistent settings.
        """
        if output_kind not in ('logits', 'probabilities'):
            raise DlaInferError(f'output_kind={output_kind!r}; expected logits or probabilities')
        if labels and len(labels) != num_classes:
            raise DlaInferError(f'{len(labels)} labels given for a model of {num_classes} classes')
        self.num_classes = num_classes
        self.labels = tuple(labels) or tuple(str(i) for i in range(num_classes))
        self.output_kind = output_kind
        self.top_k = top_k
        self.score_threshold = score_threshold
        self.validate(top_k, score_threshold)
        # The scores of one row, negated: best first in ascending order.
        self._negated = np.zeros(num_classes, dtype=np.float32)

    @staticmethod
    def validate(top_k: int, score_threshold: float) -> None:
        """Check top-k and threshold; :raises DlaInferError: when out of range."""
        if top_k < 1:
            raise DlaInferError(f'top_k={top_k} requested; must be >= 1')
        if not 0.0 <= score_threshold <= 1.0:
            raise DlaInferError(f'score_threshold={score_threshold} requested; must be in 0..1')

    def process(self, row: np.ndarray) -> List[Result]:
        """
        Turn one output row into results, best first.

        :param row: the model output for one image (any shape with num_classes values).
        :return: up to ``top_k`` (class index, label, score) tuples scoring
            at least ``score_threshold``, sorted by decreasing score.
        :raises DlaInferError: for a row of the wrong size or with NaN or infinite values.
        """
        flat = row.reshape(-1)
        if flat.size != self.num_classes:
            raise DlaInferError(f'model output has {flat.size} values, expected '
                                f'{self.num_classes}')
        negated = self._negated
        if flat.dtype != np.float32:
            negated[...] = flat  # scores are float32 whatever the output type
            flat = negated
        # The row is finite exactly when its maximum (which NaN propagates to) and its
        # minimum are, i.e. when their difference is: it cannot overflow in float64.
        highest = np.maximum.reduce(flat)
        if not math.isfinite(float(highest) - float(np.minimum.reduce(flat))):
            raise DlaInferError('model output contains NaN or infinite values')
        if self.output_kind == 'logits':
            np.subtract(flat, highest, out=negated)
            np.exp(negated, out=negated)
            # x / -sum is exactly -(x / sum): the softmax, negated for the ascending sorts.
            np.divide(negated, -np.add.reduce(negated), out=negated)
        else:
            np.negative(flat, out=negated)
        return self._best(negated)

    def _best(self, negated: np.ndarray) -> List[Result]:
        """:return: the results from the negated scores, best first."""
        k = min(self.top_k, self.num_classes)
        ranked = _pick_smallest(negated, k) if k <= PICK_ONE_BY_ONE else None
        if ranked is None:
            best = np.argpartition(negated, k - 1)[:k]
            # Python's sort is stable: ties keep their order, as with argsort(kind='stable').
            ranked = sorted(zip(negated[best].tolist(), best.tolist()), key=itemgetter(0))
        # Compared in float32, as the scores are.
        threshold = float(np.float32(self.score_threshold))
        labels = self.labels
        return [(i, labels[i], -v) for v, i in ranked if -v >= threshold]


def _pick_smallest(values: np.ndarray, k: int) -> Optional[List[Tuple[float, int]]]:
    """
    Find the ``k`` smallest of finite ``values`` one by one, marking each picked one +inf.

    :return: (value, index) pairs, ascending; None (and ``values`` as they were) when
        equal values make the choice or the order up to the partition, as it always was.
    """
    picked = []
    for _ in range(k):
        index = int(values.argmin())
        picked.append((float(values[index]), index))
        values[index] = np.inf
    ranked = [value for value, _ in picked]
    if k < values.size:
        ranked.append(float(values.min()))
    if all(a < b for a, b in zip(ranked, ranked[1:])):
        return picked
    for value, index in picked:
        values[index] = value
    return None
