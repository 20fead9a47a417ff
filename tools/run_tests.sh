#!/usr/bin/env bash
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

# Runs the test suite in the venv of DLA_INFER_ROS_DISTRO (kilted by default, or jazzy),
# bootstrapping it first if needed. Arguments go to pytest, e.g. tools/run_tests.sh -k msgs -x
# Exits with pytest's status; a run that collects no test (pytest's 5) fails too.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/tools/bootstrap.sh"
# shellcheck source=tools/env.sh
source "$ROOT/tools/env.sh"
cd "$ROOT"
echo "[run_tests] ROS_DISTRO=$ROS_DISTRO ROS_DOMAIN_ID=$ROS_DOMAIN_ID" \
  "ROS_AUTOMATIC_DISCOVERY_RANGE=$ROS_AUTOMATIC_DISCOVERY_RANGE"
status=0
python -m pytest test "$@" || status=$?
if [[ $status == 5 ]]; then
  echo '[run_tests] error: pytest collected no tests' >&2
fi
exit "$status"
