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


"""
A backend in one module, for the tests: its class, and its own option.

Registered in a test with one entry of :data:`dla_infer_ros.backends.BACKENDS`
(``BackendEntry('toy_backend', 'ToyBackend', 'numpy', options='toy_backend:OPTIONS')``):
nothing else of the package changes for it, its option included.
"""

from typing import Any, Dict, List, Optional

import numpy as np

from dla_infer_ros.backends import Backend, BackendOptions, DeviceReport, TensorSpec
from dla_infer_ros.schema import Setting

#: The toy backend's own option: the node declares it, the backend reads it.
OPTIONS = (Setting('toy_gray_score', 5.0, 'score of the gray class', bounds=(0.0, 100.0)),)


class ToyBackend(Backend):
    """A backend in one place: mean colour -> scores of 4 classes (red, green, blue, gray)."""

    name = 'toy'

    def __init__(self, model_path: str, options: Optional[BackendOptions] = None, *,
                 calibration_preprocess: Any = None) -> None:
        super().__init__(model_path, options)
        self.calibration_preprocess = calibration_preprocess
        batch = self.options.batch_size
        self._inputs = [TensorSpec('input', (batch, 3, 8, 8), np.dtype(np.float32))]
        self._outputs = [TensorSpec('logits', (batch, 4), np.dtype(np.float32))]
        self._scores = np.zeros((batch, 4), np.float32)

    @property
    def inputs(self) -> List[TensorSpec]:
        return self._inputs

    @property
    def outputs(self) -> List[TensorSpec]:
        return self._outputs

    def describe(self) -> DeviceReport:
        return DeviceReport(self.name, self.options.requested_device, 'CPU')

    def _activate_impl(self) -> None:
        pass

    def _deactivate_impl(self) -> None:
        pass

    def _infer_impl(self, feed: Any, on_device: Any) -> Dict[str, np.ndarray]:
        means = feed['input'].mean(axis=(2, 3))
        self._scores[:, :3] = means * 10
        self._scores[:, 3] = self.options.option('toy_gray_score')
        return {'logits': self._scores}
