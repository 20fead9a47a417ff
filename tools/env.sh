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

# Source (bash) after tools/bootstrap.sh: activates the venv of DLA_INFER_ROS_DISTRO (kilted by
# default, or jazzy) and sets what ROS 2 needs there. DDS discovery stays on this machine
# (LOCALHOST) in a random domain 1..101 unless ROS_DOMAIN_ID is already set, so parallel runs
# and other people's nodes do not see each other.

_dla_infer_ros_env() {
  local root venv
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  case ${DLA_INFER_ROS_DISTRO:-kilted} in
    kilted) venv=$root/.venv ;;
    jazzy) venv=$root/.venv-jazzy ;;
    *) echo "env.sh: DLA_INFER_ROS_DISTRO='$DLA_INFER_ROS_DISTRO' requested," \
         'available: kilted, jazzy' >&2
       return 1 ;;
  esac
  if [[ ! -f $venv/bin/activate ]]; then
    echo "env.sh: $venv does not exist: run tools/bootstrap.sh first" >&2
    return 1
  fi
  # shellcheck disable=SC1091
  source "$venv/bin/activate"
  # The ament index of the venv prefix: ROS packages from the wheels, the vision_msgs
  # stand-in and this package (linked by bootstrap.sh).
  export AMENT_PREFIX_PATH=$venv
  export ROS_DISTRO=${DLA_INFER_ROS_DISTRO:-kilted} ROS_VERSION=2 ROS_PYTHON_VERSION=3
  export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
  export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-$((RANDOM % 101 + 1))}
}

_dla_infer_ros_env
