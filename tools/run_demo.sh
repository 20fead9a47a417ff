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

# The main job, in the venv of DLA_INFER_ROS_DISTRO (kilted by default), bootstrapped if needed.
#   tools/run_demo.sh                  classify the two photos in test/data (top-5), then run the
#                                      GPU + DLA core 0 + DLA core 1 classifier nodes of
#                                      config/multi_accel.yaml on them for 5 s and print, per node,
#                                      requested vs effective device, fps, latency and last top-1
#   tools/run_demo.sh classify ARGS    classify_image ARGS
#   tools/run_demo.sh multi ARGS       multi_accel ARGS

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/tools/bootstrap.sh" >&2
# shellcheck source=tools/env.sh
source "$ROOT/tools/env.sh"
case ${1:-} in
  classify) shift; exec classify_image "$@" ;;
  multi) shift; exec multi_accel "$@" ;;
  '') ;;
  *) echo "run_demo.sh: '$1' requested; use no argument, 'classify ARGS' or 'multi ARGS'" >&2
     exit 2 ;;
esac
classify_image "$ROOT/test/data/chelsea_cat.jpg" "$ROOT/test/data/coffee_cup.jpg"
echo
exec multi_accel --images "$ROOT/test/data" --rate 30 --duration 5 --ros-args --log-level warn
