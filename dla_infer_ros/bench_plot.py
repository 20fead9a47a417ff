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
One PNG of a :func:`~dla_infer_ros.benchmark.run_benchmark` report (matplotlib, optional).

Left: the latency distribution of every device as a cumulative curve (solid:
alone, dashed: all devices at once). Right: throughput per device, alone and
together, with the aggregate of the concurrent run.
"""

from typing import Any, Dict, List

import numpy as np

from dla_infer_ros._optional import require
from dla_infer_ros.errors import DlaInferError


def plot_report(report: Dict[str, Any], path: str) -> None:
    """
    Draw the report into ``path``.

    :raises DlaInferError: when matplotlib is missing (with how to get it) or the
        file cannot be written.
    """
    matplotlib = require('matplotlib', 'dla_bench --plot')
    matplotlib.use('Agg')  # no display needed
    pyplot = require('matplotlib.pyplot', 'dla_bench --plot')
    figure, (cdf, bars) = pyplot.subplots(1, 2, figsize=(12, 4.5))
    devices: List[Dict[str, Any]] = report['devices']
    for index, entry in enumerate(devices):
        color = f'C{index}'
        label = f'{entry["device"]} ({entry["effective"]})'
        for mode, style in (('solo', '-'), ('concurrent', '--')):
            if entry.get(mode):
                samples = np.sort(np.asarray(entry[mode]['samples_ms']))
                fraction = np.arange(1, samples.size + 1) / samples.size
                cdf.plot(samples, fraction, style, color=color,
                         label=label + ('' if mode == 'solo' else ', concurrent'))
    cdf.set_xlabel('latency per query (ms)')
    cdf.set_ylabel('fraction of queries')
    cdf.set_title('latency distribution')
    cdf.grid(True, alpha=0.3)
    cdf.legend(fontsize='small')
    _throughput_bars(bars, report)
    options = report['options']
    figure.suptitle(f'{report["model"].split("/")[-1]}: {options["precision"]}, '
                    f'batch {options["batch_size"]}')
    figure.tight_layout()
    try:
        figure.savefig(path, dpi=100)
    except OSError as e:
        raise DlaInferError(f'cannot write {path}: {e}') from e
    finally:
        pyplot.close(figure)


def _throughput_bars(axes: Any, report: Dict[str, Any]) -> None:
    devices = report['devices']
    names = [entry['device'] for entry in devices]
    positions = np.arange(len(names))
    solo = [entry['solo']['images_per_s'] for entry in devices]
    axes.bar(positions - 0.2, solo, 0.4, label='alone')
    if report.get('concurrent'):
        together = [entry['concurrent']['images_per_s'] for entry in devices]
        axes.bar(positions + 0.2, together, 0.4, label='all at once')
        total = report['concurrent']['aggregate_images_per_s']
        axes.axhline(total, color='k', linestyle=':',
                     label=f'aggregate {total:.1f} images/s')
    axes.set_xticks(positions)
    axes.set_xticklabels(names)
    axes.set_ylabel('images/s')
    axes.set_title('throughput')
    highest = max(solo + ([report['concurrent']['aggregate_images_per_s']]
                          if report.get('concurrent') else []))
    axes.set_ylim(0, highest * 1.35)  # room above the bars and the aggregate for the legend
    axes.legend(fontsize='small', loc='upper center', ncol=3)
