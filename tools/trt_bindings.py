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
The real TensorRT Python bindings, importable without TensorRT's libraries.

PyPI carries the binding wheels of each TensorRT release (``tensorrt-bindings``
8.6.1, ``tensorrt-cu12-bindings`` 10.x). Their ``tensorrt.so`` links against
libnvinfer & co., which are not on PyPI; stub libraries built from
``test/trt_stubs`` define exactly the symbols the module imports (checked with
``nm -D --undefined-only``), so ``import tensorrt_bindings`` works and shows
the real API: classes, members, enum values and the pybind11 signatures. No
builder or runtime can be created (their factories return null).

Each version must be imported in its own process (one ``tensorrt`` module per
process). Usage::

    python3 tools/trt_bindings.py dump            # rewrite the wheels' trt_surface_*.json
    python3 tools/trt_bindings.py shell 10.3.0    # print the env to import it by hand

TensorRT 8.5 has no binding wheel: PyPI's ``tensorrt==8.5.3.1`` is the full
TensorRT (549 MB, cp310 only), so its surface is recorded once (:data:`RECORDED`)
and never downloaded by the tests. To re-record it, unpack that wheel into DIR
and run, with a Python 3.10 and libraries that satisfy ``libnvinfer_plugin.so.8``
(cuBLAS 11 and cuDNN 8, or stand-ins defining their symbols: the dump calls none)::

    export LD_LIBRARY_PATH=DIR/tensorrt:CUBLAS11_CUDNN8_DIR PYTHONPATH=DIR
    python3 tools/trt_bindings.py dump-installed --python python3.10
"""

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional, Sequence, Set
import urllib.error
import urllib.request
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE_DIR = os.path.join(REPO, '.cache', 'trt_bindings')
STUB_DIR = os.path.join(REPO, 'test', 'trt_stubs')
DATA_DIR = os.path.join(REPO, 'test', 'data')
PROBE = os.path.join(REPO, 'tools', 'trt_surface_probe.py')


@dataclasses.dataclass(frozen=True)
class Binding:
    """One binding wheel on PyPI."""

    version: str
    requirement: str
    note: str

    @property
    def major(self) -> int:
        """:return: the library major version (the .so suffix)."""
        return int(self.version.split('.')[0])


#: the versions checked: JetPack 6.0, JetPack 6.1/6.2, last 10.x with DLA, newest 10.x
BINDINGS: Dict[str, Binding] = {b.version: b for b in (
    Binding('8.6.1', 'tensorrt-bindings==8.6.1', 'JetPack 6.0'),
    Binding('10.3.0', 'tensorrt-cu12-bindings==10.3.0', 'JetPack 6.1 / 6.2'),
    Binding('10.7.0', 'tensorrt-cu12-bindings==10.7.0', 'last 10.x with DLA'),
    Binding('10.16.1.11', 'tensorrt-cu12-bindings==10.16.1.11', 'newest 10.x on PyPI'),
)}
#: a version the backend must refuse clearly (no FP16/INT8 flags, no calibrators)
UNSUPPORTED: Dict[str, Binding] = {b.version: b for b in (
    Binding('11.4.0.106', 'tensorrt-cu12-bindings==11.4.0.106', 'TensorRT 11'),
)}

#: full TensorRT wheels, too big for the tests to download: surfaces recorded once with
#: ``dump-installed`` from a Python that imports them (see the module docstring)
RECORDED: Dict[str, Binding] = {b.version: b for b in (
    Binding('8.5.3.1', 'tensorrt==8.5.3.1',
            'JetPack 5.1 (8.5.2); full wheel with libnvinfer, 549 MB, cp310 only'),
)}

#: symbols each stub library defines, by the library's soname stem
_STUB_SOURCES = {
    'libnvinfer': 'nvinfer_stub.c',
    'libnvonnxparser': 'nvonnxparser_stub.c',
    'libnvinfer_plugin': 'nvinfer_plugin_stub.c',
    'libnvparsers': 'nvparsers_stub.cpp',  # TensorRT 8 only
}
#: undefined symbols of tensorrt.so that come from the C/C++ runtime, not TensorRT
_SYSTEM_PREFIXES = ('Py', '_Py', '__', '_ITM', '_ZGTt', 'dl', 'pthread')


class BindingsUnavailable(Exception):
    """The wheel could not be downloaded or a stub not built; ``offline`` tells why."""

    def __init__(self, message: str, offline: bool = False) -> None:
        super().__init__(message)
        self.offline = offline


def index_url() -> str:
    """:return: the package index pip uses (PIP_INDEX_URL, pip config, or PyPI)."""
    if os.environ.get('PIP_INDEX_URL'):
        return os.environ['PIP_INDEX_URL'].rstrip('/')
    result = _run([sys.executable, '-m', 'pip', 'config', 'get', 'global.index-url'])
    if result.returncode == 0 and result.stdout.strip():
        return result.stdout.strip().rstrip('/')
    return 'https://pypi.org/simple'


def registry_reachable(project: str, timeout_s: float = 20.0) -> bool:
    """:return: True when the index answers for ``project`` (any HTTP answer counts)."""
    url = f'{index_url()}/{project}/'
    try:
        with urllib.request.urlopen(url, timeout=timeout_s):
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except (urllib.error.URLError, OSError):
        return False


def _run(cmd: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), capture_output=True, text=True, **kwargs)  # type: ignore


def fetch_wheel(binding: Binding, cache_dir: str = CACHE_DIR) -> str:
    """
    Download (once) and unpack a binding wheel.

    :return: the directory holding ``tensorrt_bindings/``.
    :raises BindingsUnavailable: when pip cannot download it.
    """
    # The module is compiled for one Python: the cache holds one copy per interpreter.
    tag = f'cp{sys.version_info.major}{sys.version_info.minor}'
    target = os.path.join(cache_dir, f'{binding.version}-{tag}')
    if os.path.isfile(os.path.join(target, 'tensorrt_bindings', 'tensorrt.so')):
        return target
    wheels = os.path.join(cache_dir, 'wheels')
    os.makedirs(wheels, exist_ok=True)
    py = f'{sys.version_info.major}.{sys.version_info.minor}'
    cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--only-binary=:all:',
           '--python-version', py, '--dest', wheels, binding.requirement]
    result = _run(cmd)
    project = binding.requirement.split('==')[0]
    if result.returncode != 0:
        offline = not registry_reachable(project)
        state = 'unreachable' if offline else 'reachable'
        raise BindingsUnavailable(f'pip download {binding.requirement} failed (index '
                                  f'{index_url()} {state}): {result.stderr.strip()[-800:]}',
                                  offline)
    name = project.replace('-', '_')
    found = [w for w in os.listdir(wheels)
             if w.startswith(f'{name}-{binding.version}-') and f'-{tag}-' in w
             and w.endswith('.whl')]
    if not found:
        raise BindingsUnavailable(f'no wheel for {binding.requirement} in {wheels}')
    tmp = tempfile.mkdtemp(dir=cache_dir)
    with zipfile.ZipFile(os.path.join(wheels, sorted(found)[-1])) as wheel:
        wheel.extractall(tmp)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target


def needed_symbols(module_so: str) -> List[str]:
    """:return: the TensorRT symbols ``tensorrt.so`` imports (``nm -D --undefined-only``)."""
    result = _run(['nm', '-D', '--undefined-only', module_so])
    if result.returncode != 0:
        raise BindingsUnavailable(f'nm failed on {module_so}: {result.stderr.strip()}')
    symbols = []
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) != 2 or parts[0] != 'U':
            continue
        name = parts[1].split('@')[0]
        if not name.startswith(_SYSTEM_PREFIXES) and '@' not in parts[1]:
            symbols.append(name)
    return sorted(symbols)


def needed_libraries(module_so: str) -> List[str]:
    """:return: the TensorRT sonames ``tensorrt.so`` needs (``readelf -d``)."""
    result = _run(['readelf', '-d', module_so])
    if result.returncode != 0:
        raise BindingsUnavailable(f'readelf failed on {module_so}: {result.stderr.strip()}')
    libs = []
    for line in result.stdout.splitlines():
        if '(NEEDED)' in line and '[libnv' in line:
            libs.append(line.split('[')[1].rstrip(']'))
    return libs


def build_stubs(module_so: str, cache_dir: str = CACHE_DIR) -> str:
    """
    Build the stub libraries ``tensorrt.so`` needs and check they define its symbols.

    :return: the directory to put on ``LD_LIBRARY_PATH``.
    :raises BindingsUnavailable: when gcc/g++ fail or a needed symbol is missing.
    """
    libs = needed_libraries(module_so)
    out = os.path.join(cache_dir, 'stubs', '-'.join(sorted(libs)).replace('.so', ''))
    os.makedirs(out, exist_ok=True)
    for soname in libs:
        stem = soname.split('.so')[0]
        if stem not in _STUB_SOURCES:
            raise BindingsUnavailable(f'no stub source for {soname}')
        source = os.path.join(STUB_DIR, _STUB_SOURCES[stem])
        compiler = 'g++' if source.endswith('.cpp') else 'gcc'
        result = _run([compiler, '-shared', '-fPIC', '-O0', f'-Wl,-soname,{soname}',
                       '-o', os.path.join(out, soname), source])
        if result.returncode != 0:
            raise BindingsUnavailable(f'{compiler} failed for {soname}: {result.stderr}')
    defined: Set[str] = set()
    for soname in libs:
        nm = _run(['nm', '-D', '--defined-only', os.path.join(out, soname)])
        defined.update(line.split()[-1] for line in nm.stdout.splitlines() if line.strip())
    missing = [s for s in needed_symbols(module_so) if s not in defined]
    if missing:
        raise BindingsUnavailable(f'stubs lack symbols {missing} needed by {module_so}')
    return out


def environment(version: str, cache_dir: str = CACHE_DIR) -> Dict[str, str]:
    """
    Prepare a version and return the environment that imports it.

    :raises BindingsUnavailable: see :func:`fetch_wheel` and :func:`build_stubs`.
    """
    if version in RECORDED:
        raise BindingsUnavailable(f'TensorRT {version} is recorded, not downloaded: '
                                  're-record it with dump-installed')
    binding = BINDINGS.get(version) or UNSUPPORTED[version]
    wheel_dir = fetch_wheel(binding, cache_dir)
    stubs = build_stubs(os.path.join(wheel_dir, 'tensorrt_bindings', 'tensorrt.so'), cache_dir)
    env = dict(os.environ)
    env['LD_LIBRARY_PATH'] = os.pathsep.join(
        p for p in (stubs, env.get('LD_LIBRARY_PATH', '')) if p)
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (wheel_dir, REPO, env.get('PYTHONPATH', '')) if p)
    env['TRT_BINDINGS_VERSION'] = version
    return env


def run_probe(version: str, command: str, *args: str,
              cache_dir: str = CACHE_DIR) -> subprocess.CompletedProcess:
    """Run ``tools/trt_surface_probe.py COMMAND ARGS`` in a process importing ``version``."""
    return _run([sys.executable, PROBE, command, *args], env=environment(version, cache_dir),
                cwd=REPO, timeout=300)


def dump_surface(version: str, cache_dir: str = CACHE_DIR) -> Dict[str, object]:
    """:return: the surface of ``version`` as the probe's ``dump`` command prints it."""
    result = run_probe(version, 'dump', cache_dir=cache_dir)
    if result.returncode != 0:
        raise RuntimeError(f'probe dump for {version} failed:\n{result.stderr}')
    surface: Dict[str, object] = json.loads(result.stdout)
    return surface


def surface_path(version: str) -> str:
    """:return: ``test/data/trt_surface_<version>.json``."""
    return os.path.join(DATA_DIR, f'trt_surface_{version}.json')


def dump_installed(python: str) -> Dict[str, object]:
    """
    Dump the surface of the full TensorRT that ``python`` imports as ``tensorrt``.

    The caller's environment (LD_LIBRARY_PATH, PYTHONPATH) must make it importable.

    :return: the surface, as :func:`dump_surface` returns it.
    :raises RuntimeError: when the probe fails or the version is not in :data:`RECORDED`.
    """
    env = dict(os.environ, TRT_PROBE_MODULE='tensorrt')
    env['PYTHONPATH'] = os.pathsep.join(p for p in (REPO, env.get('PYTHONPATH', '')) if p)
    result = _run([python, PROBE, 'dump'], env=env, cwd=REPO, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f'probe dump with {python} failed:\n{result.stderr}')
    surface: Dict[str, object] = json.loads(result.stdout)
    if surface['version'] not in RECORDED:
        raise RuntimeError(f'{python} imports TensorRT {surface["version"]}; recorded versions '
                           f'are {sorted(RECORDED)}')
    return surface


def write_surface(surface: Dict[str, object]) -> str:
    """Write ``surface`` to :func:`surface_path`; :return: that path."""
    path = surface_path(str(surface['version']))
    os.makedirs(DATA_DIR, exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(surface, f, indent=1, sort_keys=True)
        f.write('\n')
    return path


def main(argv: Optional[List[str]] = None) -> int:
    """Dump the surfaces to ``test/data`` or print an import environment."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    dump = sub.add_parser('dump', help='write test/data/trt_surface_<version>.json')
    dump.add_argument('versions', nargs='*', default=sorted(BINDINGS))
    shell = sub.add_parser('shell', help='print LD_LIBRARY_PATH/PYTHONPATH for one version')
    shell.add_argument('version', choices=sorted(BINDINGS) + sorted(UNSUPPORTED))
    installed = sub.add_parser('dump-installed',
                               help='write the surface of a recorded full TensorRT '
                                    f'({", ".join(sorted(RECORDED))}) that --python imports')
    installed.add_argument('--python', required=True,
                           help='an interpreter that imports it as tensorrt')
    args = parser.parse_args(argv)
    if args.command == 'shell':
        env = environment(args.version)
        for name in ('LD_LIBRARY_PATH', 'PYTHONPATH'):
            print(f'export {name}={env[name]}')
        return 0
    if args.command == 'dump-installed':
        print(f'wrote {write_surface(dump_installed(args.python))}')
        return 0
    for version in args.versions:
        print(f'wrote {write_surface(dump_surface(version))}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
