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


"""Every source file carries the package's Apache-2.0 header."""

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADER_LINES = ('# Copyright 2026 The dla_infer_ros Authors',
                '# Licensed under the Apache License, Version 2.0 (the "License");')


def _sources() -> list:
    found = [os.path.join(ROOT, 'setup.py')]
    for top in ('dla_infer_ros', 'test', 'tools', 'launch'):
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            found += [os.path.join(folder, f) for f in files if f.endswith('.py')]
    return sorted(found)


@pytest.mark.linter
def test_every_python_file_has_the_licence_header() -> None:
    missing = []
    for path in _sources():
        with open(path, encoding='utf-8') as f:
            head = f.read(1200)
        if not all(line in head for line in HEADER_LINES):
            missing.append(os.path.relpath(path, ROOT))
    assert len(_sources()) > 50
    assert not missing, f'files without the Apache-2.0 header: {missing}'
