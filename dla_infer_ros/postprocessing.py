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

from typing import List, Sequence, Tuple

import numpy as np

from dla_infer_ros.errors import DlaInferError

Result = Tuple[int, str, float]


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
        self._scores = np.zeros(num_classes, dtype=np.float32)

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
        :raises DlaInferError: for a row of the wrong size or with NaN values.
        """
        flat = row.reshape(-1)
        if flat.size != self.num_classes:
            raise DlaInferError(f'model output has {flat.size} values, expected '
                                f'{self.num_classes}')
        scores = self._scores
        scores[...] = flat
        if not np.isfinite(scores).all():
            raise DlaInferError('model output contains NaN or infinite values')
        if self.output_kind == 'logits':
            scores -= scores.max()
            np.exp(scores, out=scores)
            scores /= scores.sum()
        k = min(self.top_k, self.num_classes)
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind='stable')]
        return [(int(i), self.labels[i], float(scores[i]))
                for i in best if scores[i] >= self.score_threshold]
