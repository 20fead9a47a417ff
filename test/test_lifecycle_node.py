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
The classifier as a managed (lifecycle) node, over real rclpy and DDS.

Driven through its lifecycle services from another process, as ``ros2 lifecycle set``
or a lifecycle manager would; and in this process, where the model it holds can be
looked at (ONNX Runtime, and the TensorRT backend over the fakes).
"""

import functools
import json
import logging
from typing import Any, Iterator, List

import pytest

from conftest import needs_onnxruntime
from ros_harness import (configure_ros_environment, image_message, NodeProcess, ros_available,
                         spin_until)

pytestmark = [
    pytest.mark.ros, needs_onnxruntime,
    pytest.mark.skipif(not ros_available(), reason='rclpy and the message packages are not '
                       'importable; run the tests through tools/run_tests.sh'),
]

NODE_MODULE = 'dla_infer_ros.nodes.classifier_node'
RED = (255, 0, 0)


class Manager:
    """A lifecycle manager in miniature: the node's lifecycle services, images, results."""

    def __init__(self, node_name: str = 'classifier') -> None:
        import rclpy
        from lifecycle_msgs.srv import ChangeState, GetState
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Classification
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('test_manager', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.change = self.node.create_client(ChangeState, f'/{node_name}/change_state')
        self.get = self.node.create_client(GetState, f'/{node_name}/get_state')
        self.image_pub = self.node.create_publisher(Image, 'image', 100)
        self.results: List[Any] = []
        self.node.create_subscription(Classification, 'classification', self.results.append,
                                      100)
        self.sent = 0

    def call(self, client: Any, request: Any) -> Any:
        assert spin_until(self.executor, client.service_is_ready, 30.0), 'no service'
        future = client.call_async(request)
        assert spin_until(self.executor, future.done, 60.0), 'no answer'
        return future.result()

    def state(self) -> str:
        from lifecycle_msgs.srv import GetState
        return str(self.call(self.get, GetState.Request()).current_state.label)

    def transition(self, label: str) -> bool:
        from lifecycle_msgs.srv import ChangeState
        request = ChangeState.Request()
        request.transition.label = label
        return bool(self.call(self.change, request).success)

    def publish(self, count: int) -> None:
        for _ in range(count):
            self.image_pub.publish(image_message(RED, f'frame_{self.sent}', 0))
            self.sent += 1
            self.spin(0.05)

    def served(self, timeout: float = 20.0) -> bool:
        """Publish frames until one comes back."""
        before = len(self.results)
        for _ in range(int(timeout / 0.5)):
            self.publish(1)
            if spin_until(self.executor, lambda: len(self.results) > before, 0.45):
                return True
        return False

    def spin(self, seconds: float) -> None:
        spin_until(self.executor, lambda: False, seconds)

    def subscribers(self) -> int:
        return int(self.image_pub.get_subscription_count())

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()


@pytest.fixture
def manager() -> Iterator[Manager]:
    configure_ros_environment()
    manager = Manager()
    yield manager
    manager.close()


def test_lifecycle_services_drive_the_node_through_every_state(manager: Manager,
                                                               tiny_model: str) -> None:
    params = {'model_path': tiny_model, 'autostart': False, 'queue_size': 10,
              'image_depth': 10}
    with NodeProcess(NODE_MODULE, params) as node:
        assert manager.state() == 'unconfigured'
        manager.publish(3)
        manager.spin(0.5)
        assert manager.subscribers() == 0 and not manager.results
        assert node.process is not None and node.process.poll() is None

        assert manager.transition('configure') and manager.state() == 'inactive'
        manager.publish(3)
        manager.spin(0.5)
        assert manager.subscribers() == 0 and not manager.results

        assert manager.transition('activate') and manager.state() == 'active'
        assert manager.served(), node.stop()
        assert manager.results[-1].results[0].class_id == '0'  # red

        assert manager.transition('deactivate') and manager.state() == 'inactive'
        assert spin_until(manager.executor, lambda: manager.subscribers() == 0, 10.0)
        answered = len(manager.results)
        manager.publish(5)
        manager.spin(1.0)
        assert len(manager.results) == answered  # inactive: nothing served

        assert not manager.transition('configure')  # not a transition from inactive
        assert manager.transition('activate') and manager.state() == 'active'
        assert manager.served(), node.stop()

        assert manager.transition('shutdown')
        assert node.process.wait(timeout=20) == 0  # finalized: the process ends, status 0
        log = node.stop()
    assert 'inactive: not serving; the model stays loaded' in log, log
    assert 'active: classifying /image' in log, log
    assert 'stopped; frames:' in log, log
    assert 'Traceback' not in log, log


def test_a_failed_configure_says_why_and_the_node_stays_unconfigured(manager: Manager,
                                                                     tmp_path: Any) -> None:
    params = {'model_path': str(tmp_path / 'missing.onnx'), 'autostart': False}
    with NodeProcess(NODE_MODULE, params) as node:
        assert manager.state() == 'unconfigured'
        assert not manager.transition('configure')
        assert manager.state() == 'unconfigured'
        assert node.process is not None and node.process.poll() is None  # still serving services
        log = node.stop()
    assert 'configure failed: ' in log and 'missing.onnx' in log, log
    assert 'Traceback' not in log, log


@pytest.fixture
def context() -> Iterator[Any]:
    import rclpy
    configure_ros_environment()
    context = rclpy.Context()
    rclpy.init(context=context)
    yield context
    context.try_shutdown()


def _node(context: Any, **parameters: Any) -> Any:
    from rclpy.parameter import Parameter
    from dla_infer_ros.nodes.classifier_node import ClassifierNode
    overrides = [Parameter(name, value=value) for name, value in parameters.items()]
    return ClassifierNode(context=context, parameter_overrides=overrides)


def test_cleanup_frees_the_model_and_configure_loads_it_again(context: Any,
                                                              tiny_model: str) -> None:
    node = _node(context, model_path=tiny_model, autostart=False, backend='onnxruntime')
    try:
        assert node.lifecycle_state == 'unconfigured'
        node.transition('configure')
        first = node._classifier
        assert first.backend.is_active and node.lifecycle_state == 'inactive'
        node.transition('activate')
        node.transition('deactivate')
        assert first.backend.is_active  # deactivate keeps the model
        node.transition('cleanup')
        assert not first.backend.is_active and node._classifier is None
        assert node.lifecycle_state == 'unconfigured'
        with pytest.raises(Exception, match='unconfigured: no model loaded'):
            node.device_report()
        node.transition('configure')
        assert node._classifier is not first and node._classifier.backend.is_active
    finally:
        node.destroy_node()
    assert node._classifier is None


def test_autostart_configures_and_activates(context: Any, tiny_model: str) -> None:
    node = _node(context, model_path=tiny_model)
    try:
        assert node.lifecycle_state == 'active'
        assert node.device_report().effective == 'CPU'
    finally:
        node.destroy_node()


def test_a_transition_that_is_not_possible_is_refused(context: Any, tiny_model: str) -> None:
    from dla_infer_ros.errors import DlaInferError
    node = _node(context, model_path=tiny_model, autostart=False)
    try:
        with pytest.raises(DlaInferError, match='activate is not possible in state unconfigured'):
            node.transition('activate')
        with pytest.raises(DlaInferError, match="no lifecycle transition 'explode'"):
            node.transition('explode')
        assert node.lifecycle_state == 'unconfigured'
    finally:
        node.destroy_node()


def test_cleanup_returns_the_tensorrt_device_memory(context: Any, tmp_path: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from fake_cuda import FakeCudaApi
    from fake_tensorrt import FakeWorld, make_fake_tensorrt, write_model
    from dla_infer_ros import classifier as classifier_module
    world = FakeWorld(cuda=FakeCudaApi())
    model = write_model(str(tmp_path / 'tiny.onnx'), batch=1, size=8, classes=3)
    with open(str(tmp_path / 'tiny.json'), 'w', encoding='utf-8') as f:
        json.dump({'format': 'dla_infer_ros/model-contract-1', 'name': 'tiny',
                   'model': 'tiny.onnx', 'input': {'name': 'input', 'height': 8, 'width': 8},
                   'output': {'name': 'logits', 'kind': 'logits'}}, f)
    monkeypatch.setattr(classifier_module, 'create_backend', functools.partial(
        classifier_module.create_backend, tensorrt_module=make_fake_tensorrt('8.5.3.1', world),
        cuda_factory=lambda binding, index: world.cuda,
        log=logging.getLogger('test.lifecycle')))
    free_before, _ = world.cuda.mem_get_info()
    node = _node(context, model_path=model, backend='tensorrt', autostart=False,
                 preprocess_device='cpu', engine_cache_dir=str(tmp_path / 'cache'))
    try:
        for _ in range(2):
            node.transition('configure')
            assert world.cuda.live > 0 and world.cuda.mem_get_info()[0] < free_before
            assert node.device_report().backend == 'tensorrt'
            node.transition('activate')
            node.transition('deactivate')
            node.transition('cleanup')
            assert world.cuda.live == 0 and world.cuda.mem_get_info()[0] == free_before
    finally:
        node.destroy_node()


@pytest.mark.parametrize('stop', ['SIGINT', 'SIGTERM'])
def test_a_stop_signal_ends_the_managed_node_quietly(manager: Manager, tiny_model: str,
                                                     stop: str) -> None:
    import signal
    with NodeProcess(NODE_MODULE, {'model_path': tiny_model}) as node:
        assert manager.state() == 'active'
        assert node.process is not None
        node.process.send_signal(getattr(signal, stop))
        assert node.process.wait(timeout=20) == 0
        log = node.stop()
    assert 'stopped; frames:' in log, log
    # The lifecycle state machine is released with the node: nothing logs into a dead rosout.
    assert 'Failed to publish log message to rosout' not in log, log
    assert 'Traceback' not in log, log


def test_a_registered_backend_brings_its_option_to_the_node(
        context: Any, tiny_model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # test/toy_backend.py and one registry entry: the node declares and passes its option.
    from dla_infer_ros import backends
    monkeypatch.setitem(backends.BACKENDS, 'toy', backends.BackendEntry(
        'toy_backend', 'ToyBackend', 'numpy', options='toy_backend:OPTIONS'))
    node = _node(context, model_path=tiny_model, backend='toy', toy_gray_score=42.0)
    try:
        assert node.get_parameter('toy_gray_score').value == 42.0
        descriptor = node.describe_parameter('toy_gray_score')
        assert descriptor.description == 'score of the gray class' and descriptor.read_only
        assert node.device_report().backend == 'toy'
        assert node._classifier.backend.options.option('toy_gray_score') == 42.0
    finally:
        node.destroy_node()
