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

# Classifies a photo with the classify_image command of this package, in the venv of
# DLA_INFER_ROS_DISTRO (kilted by default), bootstrapping it first if needed.
# Arguments go to classify_image; without any, it classifies test/data/chelsea_cat.jpg.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/tools/bootstrap.sh" >&2
# shellcheck source=tools/env.sh
source "$ROOT/tools/env.sh"
if [[ $# == 0 ]]; then
  set -- "$ROOT/test/data/chelsea_cat.jpg"
fi
exec classify_image "$@"
