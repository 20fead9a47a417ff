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


"""The fakes expose exactly the real API of each version, and nothing more."""

import gc
import os
import threading
from typing import Any, Dict, Set

from fake_cuda import FakeCudaApi
from fake_tensorrt import (FakeWorld, IMPLEMENTATIONS, load_surface, make_fake_tensorrt,
                           VERSIONS, write_model)
import pytest


def fake(version: str) -> Any:
    return make_fake_tensorrt(version, FakeWorld(cuda=FakeCudaApi()))


@pytest.mark.parametrize('version', VERSIONS)
def test_fake_classes_only_have_real_members(version: str) -> None:
    trt, classes = fake(version), load_surface(version)['classes']
    for impl in IMPLEMENTATIONS:
        if impl.__name__ not in classes:
            continue
        generated = getattr(trt, impl.__name__)
        public = {n for n in vars(generated) if not n.startswith('_')}
        assert public <= set(classes[impl.__name__]['members']), impl.__name__
    for name, entry in classes.items():
        if 'enum' in entry and '.' not in name:
            members = getattr(trt, name).__members__.items()
            assert {k: int(v) for k, v in members} == entry['enum']


def test_every_fake_member_exists_in_some_real_version() -> None:
    real: Dict[str, Set[str]] = {}
    for version in VERSIONS:
        for name, entry in load_surface(version)['classes'].items():
            real.setdefault(name, set()).update(entry['members'])
    for impl in IMPLEMENTATIONS:
        invented = {n for n in vars(impl) if not n.startswith('_')} - real[impl.__name__]
        assert invented == set(), impl.__name__


def test_unknown_names_raise_like_the_bindings() -> None:
    old, new = fake('8.6.1'), fake('10.3.0')
    assert not hasattr(old, 'IProgressMonitor') and hasattr(new, 'IProgressMonitor')
    with pytest.raises(AttributeError, match='TensorRT 8.6.1 has no attribute'):
        old.IProgressMonitor
    old_config, new_config = old.IBuilderConfig(), new.IBuilderConfig()
    old_config.max_workspace_size = 1  # deprecated but present in 8.6
    with pytest.raises(AttributeError, match='IBuilderConfig of TensorRT 10.3.0 has no '
                                             "attribute 'max_workspace_size'"):
        new_config.max_workspace_size = 1
    with pytest.raises(AttributeError, match="has no attribute 'progress_monitor'"):
        old_config.progress_monitor = None
    new_config.progress_monitor = None
    with pytest.raises(AttributeError, match='does not implement'):
        new_config.builder_optimization_level  # real, not needed by the backend
    with pytest.raises(AttributeError, match="has no value 'STRICT_TYPES'"):
        new.BuilderFlag.STRICT_TYPES
    assert old.BuilderFlag.STRICT_TYPES.name == 'STRICT_TYPES'
    with pytest.raises(TypeError, match='logger must be ILogger'):
        new.Builder(object())


def test_host_memory_is_a_buffer_with_real_attributes_only() -> None:
    trt = fake('10.3.0')
    memory = trt.IHostMemory(b'plan')
    assert bytes(memory) == b'plan' and memory.nbytes == 4
    with pytest.raises(AttributeError):
        memory.decode


def test_fake_cuda_notices_a_thread_that_ends_with_its_context_pushed() -> None:
    """As pycuda does (it aborts the process): the backend tests rely on noticing it."""
    cuda = FakeCudaApi()
    worker = threading.Thread(target=cuda._bind, name='leaky')
    worker.start()
    worker.join()
    gc.collect()
    assert cuda.aborts == ['thread leaky ended with the context still pushed '
                           '(pycuda aborts the process here)']
    with cuda.bound():
        cuda.device_buffer(4)
    cuda.device_buffer(4)
    assert cuda.unbound_calls == ['device_buffer']


@pytest.mark.parametrize('version', VERSIONS)
def test_fake_dla_build_without_fallback_needs_dla_io(version: str, tmp_path: Any) -> None:
    """Real TensorRT converts FP32 network I/O on the GPU: no DLA-only build without DLA I/O."""
    world = FakeWorld(cuda=FakeCudaApi())
    trt = make_fake_tensorrt(version, world)
    logger = trt.ILogger()
    errors = []
    logger.log = lambda severity, msg: errors.append(msg)

    def build(direct_io: bool, half: bool) -> Any:
        network = trt.Builder(logger).create_network(
            1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH))
        assert trt.OnnxParser(network, logger).parse_from_file(
            write_model(os.path.join(str(tmp_path), 'm.onnx')))
        config = trt.Builder(logger).create_builder_config()
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = 0
        config.set_flag(trt.BuilderFlag.FP16)
        if direct_io:
            config.set_flag(trt.BuilderFlag.DIRECT_IO)
        for tensor in (network.get_input(0), network.get_output(0)):
            if half:
                tensor.dtype = trt.DataType.HALF
                tensor.allowed_formats = 1 << int(trt.TensorFormat.DLA_LINEAR)
        return trt.Builder(logger).build_serialized_network(network, config)
    assert build(direct_io=False, half=False) is None
    assert 'needs a reformat, which runs on the GPU' in errors[-1]
    assert build(direct_io=True, half=False) is None
    assert build(direct_io=True, half=True) is not None
