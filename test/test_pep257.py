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

"""pep257 docstring checks with ament_pep257's settings."""

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.linter
@pytest.mark.pep257
def test_pep257() -> None:
    ament_pep257 = pytest.importorskip('ament_pep257.main',
                                       reason='ament_pep257 is not installed')
    paths = [os.path.join(ROOT, p) for p in ('dla_infer_ros', 'test', 'tools')
             if os.path.exists(os.path.join(ROOT, p))]
    rc = ament_pep257.main(argv=paths)
    assert rc == 0, 'Found code style errors / warnings'
