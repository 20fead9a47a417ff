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


"""Shared by the GPU tests: is there a GPU, and which CUDA bindings can be used."""

import functools
from typing import List

import pytest

from dla_infer_ros._optional import is_available
from dla_infer_ros.backends.cuda import create_cuda_api
from dla_infer_ros.errors import DlaInferError


@functools.lru_cache(maxsize=None)
def gpu_status() -> str:
    """:return: '' when cuda-python sees a GPU, else why not."""
    if not is_available('cuda.bindings.runtime'):
        return 'cuda-python (cuda.bindings) is not installed'
    try:
        api = create_cuda_api('cuda-python', 0)
    except DlaInferError as e:
        return f'no usable CUDA GPU: {e}'
    api.close()
    return ''


def binding_params() -> List[object]:
    """:return: pytest params for the two bindings, each skipped when unusable."""
    pycuda_missing = not is_available('pycuda.driver')
    return [
        pytest.param('cuda-python', id='cuda-python'),
        pytest.param('pycuda', id='pycuda', marks=pytest.mark.skipif(
            pycuda_missing, reason='pycuda is not installed (built from its sdist on the GPU '
                                   'machine; see the report)')),
    ]


def require_gpu() -> None:
    """Skip the calling test, with the reason, when there is no GPU."""
    status = gpu_status()
    if status:
        pytest.skip(status)
