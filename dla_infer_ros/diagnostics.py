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
The contents of a node's diagnostic status, built without ROS.

The node turns the result into a ``diagnostic_msgs/DiagnosticStatus``; the
level numbers are those of that message.
"""

import dataclasses
from typing import Dict, List, Tuple

from dla_infer_ros.backends.base import DeviceReport

OK, WARN, ERROR = 0, 1, 2
STAT_KEYS = ('min', 'mean', 'p50', 'p90', 'p99', 'max')


@dataclasses.dataclass
class StatusContent:
    """Level, one-line message and key/value pairs of one diagnostic status."""

    level: int
    message: str
    values: List[Tuple[str, str]]


class StatusBuilder:
    """Builds successive statuses; problems are judged on what changed since the last one."""

    def __init__(self) -> None:
        """Start with no previous counters."""
        self._previous: Dict[str, int] = {}

    def build(self, report: DeviceReport, snapshot: Dict[str, object],
              failure: str = '', state: str = 'active') -> StatusContent:
        """
        Describe the node's device and its numbers.

        :param report: requested vs effective device and layer placement.
        :param snapshot: :meth:`dla_infer_ros.stats.PipelineStats.snapshot`.
        :param failure: why the node stopped serving, if it did.
        :param state: the node's lifecycle state; other than ``active``, the message
            starts with it (the node does not serve then).
        :return: level (WARN on fallback or on rejected/failed frames since the
            last status, ERROR when every frame since then failed or the node
            stopped serving), message, values.
        """
        counters: Dict[str, int] = snapshot['counters']  # type: ignore[assignment]
        stages: Dict[str, Dict[str, float]] = snapshot['stages']  # type: ignore[assignment]
        fps = float(snapshot['fps'])  # type: ignore[arg-type]
        delta = {k: v - self._previous.get(k, 0) for k, v in counters.items()}
        self._previous = dict(counters)
        level, problems = OK, []
        if report.fell_back:
            level = WARN  # the summary already names the reason
        for counter in ('rejected', 'failed'):
            if delta.get(counter, 0) > 0:
                level = max(level, WARN)
                problems.append(f'{delta[counter]} frames {counter}')
        if delta.get('failed', 0) > 0 and delta.get('published', 0) == 0:
            level = ERROR
        if failure:
            level = ERROR
            problems.insert(0, f'stopped serving: {failure}')
        message = f'{report.summary()}; {fps:.1f} fps'
        if state != 'active':
            message = f'{state}, not serving; {message}'
        if problems:
            message += '; ' + '; '.join(problems)
        values = [('lifecycle_state', state), ('requested_device', report.requested),
                  ('effective_device', report.effective),
                  ('backend', report.backend), ('fallback_reason', report.fallback_reason or '-'),
                  ('layer_placement', report.placement.summary())]
        values += [(key, value) for key, value in report.details]
        values += [(f'frames_{name}', str(count)) for name, count in counters.items()]
        values.append(('fps', f'{fps:.2f}'))
        for stage, summary in stages.items():
            for key in STAT_KEYS:
                if key in summary:
                    values.append((f'{stage} {key} ms', f'{summary[key]:.3f}'))
        return StatusContent(level, message, values)
