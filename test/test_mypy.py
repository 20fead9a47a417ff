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

"""mypy over the package: every public function typed, no implicit Any leaks."""

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.linter
@pytest.mark.mypy
def test_mypy() -> None:
    mypy_api = pytest.importorskip('mypy.api', reason='mypy is not installed')
    stdout, stderr, rc = mypy_api.run(
        ['--config-file', os.path.join(ROOT, 'test', 'mypy.ini'),
         os.path.join(ROOT, 'dla_infer_ros')])
    assert rc == 0, f'mypy found problems:\n{stdout}\n{stderr}'
