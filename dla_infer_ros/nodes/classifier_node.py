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
The classifier node: ``image`` in, ``classification`` and ``/diagnostics`` out.

Data path: subscription callback (the frame still serialized) -> :class:`FrameQueue`
-> inference thread -> :mod:`dla_infer_ros.cdr` (the fields read in place) ->
:mod:`dla_infer_ros.image_conversion` -> :class:`dla_infer_ros.classifier.Classifier`
(preprocess, backend, postprocess) -> ``vision_msgs/Classification`` with the
image's header. This module only translates between ROS and those pieces.
"""

import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import numpy as np
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.impl.implementation_singleton import rclpy_implementation
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy)
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from vision_msgs.msg import Classification, LabelInfo, ObjectHypothesis, VisionClass

from dla_infer_ros.cdr import read_compressed_image, read_image
from dla_infer_ros.classifier import Classifier, STAGES as CLASSIFIER_STAGES
from dla_infer_ros.diagnostics import StatusBuilder
from dla_infer_ros.dla.analyzer import analyze_model
from dla_infer_ros.dla.platform_probe import platform_choice
from dla_infer_ros.errors import DlaInferError
from dla_infer_ros.image_conversion import compressed_to_array, image_to_array, to_model_order
from dla_infer_ros.model_contract import resolve_model
from dla_infer_ros.native_messages import restore as restore_stderr
from dla_infer_ros.nodes.classifier_settings import classifier_parameters, MAX_IMAGE_PIXELS
from dla_infer_ros.nodes.frame_queue import Frame, FrameQueue
from dla_infer_ros.nodes.parameters import (declare_parameter, make_descriptor,
                                            reject_unknown_overrides)
from dla_infer_ros.nodes.spin import abandon, spin_node
from dla_infer_ros.schema import backend_options, Setting
from dla_infer_ros.stats import PipelineStats

STAGES = ('convert', *CLASSIFIER_STAGES, 'in_node', 'end_to_end')
#: Encodings whose raw view may be read as is (where the classifier reads that channel order).
NATIVE_ORDER = {'rgb8': 'RGB', 'bgr8': 'BGR', '8UC3': 'BGR', 'mono8': 'GRAY', '8UC1': 'GRAY',
                'rgba8': 'RGBA', 'bgra8': 'BGRA', '8UC4': 'BGRA'}
TRANSITIONS = ('configure', 'activate', 'deactivate', 'cleanup', 'shutdown')
_LOG_THROTTLE_S = 5.0
#: Conversion buffers up to this size are kept for the next frame; a larger one (a frame
#: far bigger than the camera's usual) is freed after use.
_KEPT_BUFFER_BYTES = 4096 * 2160 * 3
#: Seconds shutdown waits for the frame in progress (a huge decode, a slow engine);
#: a thread still busy after that is left to end with the process.
STOP_WAIT_S = 1.0
#: Seconds the cleanup transition waits for it before it fails (the model stays loaded).
CLEANUP_WAIT_S = 10.0

#: name -> setting: every parameter of the node (:mod:`.classifier_settings`).
PARAMETERS = classifier_parameters()


def _descriptor(entry: Setting) -> ParameterDescriptor:
    return make_descriptor(entry.default, entry.description, entry.read_only, entry.bounds)


class ClassifierNode(LifecycleNode):
    """
    Classifies the images of one topic on the accelerator its parameters choose.

    A managed (lifecycle) node: *configure* loads or builds the model and says what
    runs where, *activate* subscribes to the images, *deactivate* stops serving and
    keeps the model, *cleanup* frees it (device memory included), *shutdown* ends the
    node from any state. With ``autostart`` (the default) it configures and activates
    itself at start; with ``autostart:=false`` a lifecycle manager or
    ``ros2 lifecycle set`` drives it.
    """

    def __init__(self, node_name: str = 'classifier', **kwargs: Any) -> None:
        """
        Declare parameters; with ``autostart``, configure and activate.

        :param node_name: the node name.
        :param kwargs: passed to :class:`rclpy.node.Node` (namespace, parameter_overrides, ...).
        :raises DlaInferError: when ``autostart`` is on and the model cannot be loaded as asked.
        """
        super().__init__(node_name, **kwargs)
        # Gathered now: a backend registered after import (a plugin) declares its options too.
        self._settings = classifier_parameters()
        for name, entry in self._settings.items():
            declare_parameter(self, name, entry.default, _descriptor(entry))
        reject_unknown_overrides(self)
        self._node_name = node_name
        self._state = 'unconfigured'
        self._in_process = False
        self._transition_error = ''
        self._stats = PipelineStats(STAGES)
        self._status = StatusBuilder()
        self._status_lock = threading.Lock()
        self._failure = ''
        self._latest_results: Sequence[Tuple[int, str, float]] = ()
        # Made by configure, freed by cleanup:
        self._classifier: Optional[Classifier] = None
        self._predicted_placement = ''
        self._order = ''
        self._frames: Optional[FrameQueue] = None
        self._worker: Optional[threading.Thread] = None
        self._max_pixels = MAX_IMAGE_PIXELS
        self._class_id_is_index = True
        self._buffers: List[Optional[np.ndarray]] = []
        self._publishers_made: List[Any] = []
        self._diag_timer: Optional[Any] = None
        # Made by activate, destroyed by deactivate. Not self._subscriptions: newer rclpy
        # (Jazzy, Kilted) keeps the node's own list there.
        self._image_subscriptions: List[Any] = []
        self._qos_timer: Optional[Any] = None
        self._reliability = ''
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._failed = self.create_guard_condition(lambda: None)
        if self._param('autostart'):
            self.start()

    def _param(self, name: str) -> Any:
        return self.get_parameter(name).value

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """
        Configure, then activate (what ``autostart`` does).

        :raises DlaInferError: with the reason, when either transition fails.
        """
        self.transition('configure')
        self.transition('activate')

    def transition(self, name: str) -> None:
        """
        Make lifecycle transition ``name`` from this process, as its services would.

        :param name: configure, activate, deactivate, cleanup or shutdown.
        :raises DlaInferError: with the reason when it fails (the caller reports it).
        """
        trigger = getattr(self, f'trigger_{name}', None) if name in TRANSITIONS else None
        if trigger is None:
            raise DlaInferError(f'no lifecycle transition {name!r}; expected one of '
                                + ', '.join(TRANSITIONS))
        self._in_process = True
        try:
            result = trigger()
        except rclpy_implementation.RCLError:  # Humble, Jazzy: raised where Kilted returns
            result = TransitionCallbackReturn.ERROR
        finally:
            self._in_process = False
        if result != TransitionCallbackReturn.SUCCESS:
            raise DlaInferError(self._transition_error
                                or f'{name} is not possible in state {self._state}')

    @property
    def lifecycle_state(self) -> str:
        """:return: unconfigured, inactive, active or finalized."""
        return self._state

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load or build the model, make the publishers and the inference thread."""
        return self._transition('configure', self._configure)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Subscribe to the images: the node serves."""
        return self._transition('activate', self._activate)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe and drop the queued frames; the model stays loaded."""
        return self._transition('deactivate', self._deactivate)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop the inference thread, free the model and the publishers."""
        return self._transition('cleanup', self._cleanup)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Free whatever the node holds; the process then ends (status 0)."""
        result = self._transition('shutdown', self._cleanup)
        self._state = 'finalized'
        self._failed.trigger()  # wakes the executor, whose loop ends on finished()
        return result

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Free whatever the node holds and go back to unconfigured."""
        return self._transition('error processing', self._cleanup)

    def _transition(self, name: str, action: Callable[[], None]) -> TransitionCallbackReturn:
        # rclpy turns an exception in a transition into ERROR without a word: say why here.
        self._transition_error = ''
        try:
            action()
        except Exception as e:
            self._transition_error = str(e) if isinstance(e, DlaInferError) else \
                f'{type(e).__name__}: {e}'
            if not self._in_process:  # the caller in this process reports it
                self.get_logger().error(f'{name} failed: {self._transition_error}')
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def _configure(self) -> None:
        try:
            classifier = self._classifier = self._make_classifier()
            self._predicted_placement = self._predict_dla_placement(classifier)
            self._order = classifier.contract.input_contract.channel_order
            self._frames = FrameQueue(self._param('queue_size'))
            self._max_pixels = int(self._param('max_image_pixels'))
            self._class_id_is_index = self._param('result_class_id') == 'index'
            self._buffers = [None] * classifier.batch_size
            self._classification_pub = self.create_publisher(Classification, 'classification',
                                                             10)
            latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                                 reliability=ReliabilityPolicy.RELIABLE)
            self._label_pub = self.create_publisher(LabelInfo, 'label_info', latched)
            self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
            self._publishers_made = [self._classification_pub, self._label_pub,
                                     self._diagnostics_pub]
            self._diag_timer = self.create_timer(self._param('diagnostics_period'),
                                                 self._publish_diagnostics)
            self._publish_label_info()
            self._worker = threading.Thread(target=self._serve, args=(self._frames, classifier),
                                            name=f'{self._node_name}_inference', daemon=True)
            self._worker.start()
        except BaseException:
            self._release(STOP_WAIT_S)
            raise
        self._state = 'inactive'

    def _activate(self) -> None:
        wanted = self._param('image_reliability')
        self._subscribe('reliable' if wanted == 'auto' else wanted)
        self._check_image_qos()
        self._qos_timer = self.create_timer(1.0, self._check_image_qos)
        self._state = 'active'
        if not self._in_process:
            self.get_logger().info(f'active: classifying '
                                   f'{self._image_subscriptions[0].topic_name}')

    def _deactivate(self) -> None:
        self._unsubscribe()
        left = self._frames.clear() if self._frames is not None else 0
        if left:
            self._stats.count('dropped', left)
        self._state = 'inactive'
        self.get_logger().info('inactive: not serving; the model stays loaded')

    def _cleanup(self) -> None:
        self._release(CLEANUP_WAIT_S)
        self._state = 'unconfigured'

    def _release(self, wait_s: float, on_exit: bool = False) -> None:
        """
        Undo activate and configure, in reverse; safe to call in any state.

        :param wait_s: seconds to wait for the frame in progress.
        :param on_exit: the process ends: a frame still in progress after ``wait_s`` is
            left to end with it (freeing the model under a running inference could crash).
        :raises DlaInferError: when the frame in progress did not finish (not ``on_exit``):
            the model stays loaded.
        """
        self._unsubscribe()
        if self._frames is not None:
            left = self._frames.close()
            if left:
                self._stats.count('dropped', left)
        if self._worker is not None:
            self._worker.join(timeout=wait_s)
            if self._worker.is_alive():
                if not on_exit:
                    raise DlaInferError(f'the frame in progress did not finish within {wait_s} '
                                        's; the model stays loaded')
                restore_stderr()  # the frame may be decoding, with stderr caught
                abandon(self._worker)
                self.get_logger().warning(f'the frame in progress did not finish within '
                                          f'{wait_s} s; not waiting for it')
                return
            self._worker = None
        self._frames = None
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
            self._diag_timer = None
        for publisher in self._publishers_made:
            self.destroy_publisher(publisher)
        self._publishers_made = []
        classifier, self._classifier = self._classifier, None
        if classifier is not None:
            classifier.deactivate()

    def _make_classifier(self) -> Classifier:
        values = {name: self._param(name) for name in self._settings}
        for entry in self._settings.values():
            if entry.choices:  # read-only: checked once, here (rclpy checks the ranges)
                entry.check(values[entry.name])
        contract = resolve_model(values['model_path'], values['labels_path'])
        options = backend_options(values)
        classifier = Classifier(contract, self._param('backend'), options,
                                self._param('top_k'), self._param('score_threshold'),
                                preprocess_device=self._param('preprocess_device'))
        classifier.activate()
        report = classifier.describe()
        if report.fell_back:
            self.get_logger().warning(f'{report.summary()}')
        self.get_logger().info(f'model {contract.name} on {report.backend}: {report.summary()}; '
                               f'{report.placement.summary()}; preprocessing on '
                               f'{classifier.preprocessing}')
        return classifier

    def _predict_dla_placement(self, classifier: Classifier) -> str:
        # Runs only when a DLA core is asked for, next to what the backend reports.
        contract = classifier.contract
        if self._param('dla_core') < 0 or not contract.model_path.endswith('.onnx'):
            return ''
        try:
            platform, how = platform_choice(self._param('dla_platform'))
            if how not in ('asked', 'detected'):
                self.get_logger().warning(how)
            prediction = analyze_model(contract.model_path, platform, classifier.batch_size)
        except DlaInferError as e:
            self.get_logger().warning(f'offline DLA check skipped: {e}')
            return ''
        actual = classifier.describe().placement.summary()
        self.get_logger().info(f'offline DLA check predicts {prediction.summary()}; '
                               f'backend reports {actual}')
        return prediction.summary()

    def device_report(self) -> Any:
        """
        Say what was asked for and what runs the model.

        :return: the :class:`dla_infer_ros.backends.DeviceReport` of the model.
        :raises DlaInferError: when the node is not configured (no model loaded).
        """
        if self._classifier is None:
            raise DlaInferError(f'{self.get_name()} is {self._state}: no model loaded')
        return self._classifier.describe()

    def stats_snapshot(self) -> Dict[str, object]:
        """:return: counters, fps and stage latencies (see :class:`PipelineStats`)."""
        return self._stats.snapshot()

    # -- image subscriptions -------------------------------------------------------------

    def _wanted_reliability(self) -> str:
        wanted = self._param('image_reliability')
        if wanted != 'auto':
            return str(wanted)
        topic = self._image_subscriptions[0].topic_name
        publishers = self.get_publishers_info_by_topic(topic)
        if any(p.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for p in publishers):
            return 'best_effort'
        return 'reliable'

    def _unsubscribe(self) -> None:
        for subscription in self._image_subscriptions:
            self.destroy_subscription(subscription)
        self._image_subscriptions = []
        if self._qos_timer is not None:
            self.destroy_timer(self._qos_timer)
            self._qos_timer = None
        self._reliability = ''

    def _subscribe(self, reliability: str) -> None:
        for subscription in self._image_subscriptions:
            self.destroy_subscription(subscription)
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=self._param('image_depth'),
                         reliability=ReliabilityPolicy.BEST_EFFORT
                         if reliability == 'best_effort' else ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)
        # raw: frames arrive serialized; only those the inference thread takes are read.
        # One transport, as image_transport subscribers do: a camera publishing both would
        # otherwise deliver every frame twice.
        if self._param('image_transport') == 'compressed':
            topic = self.resolve_topic_name('image') + '/compressed'
            self._image_subscriptions = [self.create_subscription(
                CompressedImage, topic, self._on_compressed, qos, raw=True)]
        else:
            self._image_subscriptions = [self.create_subscription(
                Image, 'image', self._on_image, qos, raw=True)]
        if self._reliability:
            self.get_logger().info(f'image subscription now {reliability} to match the '
                                   f'publishers on {self._image_subscriptions[0].topic_name}')
        self._reliability = reliability

    def _check_image_qos(self) -> None:
        wanted = self._wanted_reliability()
        if wanted != self._reliability:
            self._subscribe(wanted)

    def _on_image(self, msg: bytes) -> None:
        self._enqueue(msg, False)

    def _on_compressed(self, msg: bytes) -> None:
        self._enqueue(msg, True)

    def _enqueue(self, msg: bytes, compressed: bool) -> None:
        frames = self._frames
        if frames is None:  # a callback already taken when cleanup ran
            return
        self._stats.count('received')
        dropped = frames.put(Frame(msg, compressed, time.perf_counter_ns()))
        if dropped:
            self._stats.count('dropped', dropped)

    # -- inference thread ----------------------------------------------------------------

    def _serve(self, frames: FrameQueue, classifier: Classifier) -> None:
        try:
            self._serve_frames(frames, classifier)
        except BaseException as e:  # the loop itself broke: say so, and end the process
            if self.context.ok():
                self._stop_serving(f'{type(e).__name__}: {e}')

    def _stop_serving(self, reason: str) -> None:
        self._failure = reason
        self.get_logger().fatal(f'inference thread stopped: {reason}; the node stops')
        self._publish_diagnostics()  # ERROR now, before the process ends
        self._failed.trigger()  # wakes the executor, whose loop ends on failure()

    def _serve_frames(self, queue: FrameQueue, classifier: Classifier) -> None:
        while not queue.closed:
            frames = queue.take(classifier.batch_size, timeout=0.5)
            if not frames:
                continue
            try:
                self._process(frames, classifier)
            except Exception as e:  # whatever one frame raises must not end the serving loop
                if not self.context.ok():
                    return  # shutting down (Ctrl-C): the publishers went with the context
                self._stats.count('failed', len(frames))
                self.get_logger().error(f'frame failed: {type(e).__name__}: {e}',
                                        throttle_duration_sec=_LOG_THROTTLE_S)

    def _process(self, frames: List[Frame], classifier: Classifier) -> None:
        images, kept, order = [], [], self._order
        for slot, frame in enumerate(frames):
            start = time.perf_counter_ns()
            try:
                image, order, header = self._convert(frame, slot, len(frames),
                                                     classifier.orders)
            except DlaInferError as e:
                self._stats.count('rejected')
                self.get_logger().warning(f'image rejected: {e}',
                                          throttle_duration_sec=_LOG_THROTTLE_S)
                continue
            self._stats.record({'convert': (time.perf_counter_ns() - start) / 1e6})
            images.append(image)
            kept.append((frame, header))
        if not images:
            return
        try:
            results = classifier.classify(images, order)
        except DlaInferError as e:
            self._stats.count('failed', len(images))
            self.get_logger().error(f'inference failed: {e}',
                                    throttle_duration_sec=_LOG_THROTTLE_S)
            return
        self._stats.record(classifier.last_timings)
        for (frame, header), frame_results in zip(kept, results):
            self._publish(frame, header, frame_results)

    @staticmethod
    def _read(frame: Frame) -> Tuple[Any, Header]:
        """:return: the fields of a serialized frame (read in place where possible), its header."""
        fields = (read_compressed_image if frame.compressed else read_image)(frame.msg)
        if fields is None:  # not plain CDR: let the middleware's type support read it
            try:
                msg = deserialize_message(frame.msg,
                                          CompressedImage if frame.compressed else Image)
            except Exception as e:  # rclpy raises RMW errors of its own for any bad input
                raise DlaInferError(f'cannot deserialize the frame: {e}') from e
            return msg, msg.header
        header = Header(frame_id=fields.frame_id)
        header.stamp.sec, header.stamp.nanosec = fields.stamp_sec, fields.stamp_nanosec
        return fields, header

    def _convert(self, frame: Frame, slot: int, count: int,
                 orders: Sequence[str]) -> Tuple[np.ndarray, str, Header]:
        fields, header = self._read(frame)
        if frame.compressed:
            damage: List[str] = []
            view, info = compressed_to_array(fields, self._max_pixels, damage)
            if damage:
                self._stats.count('damaged')
                self.get_logger().warning(f'image decoded from damaged data: {"; ".join(damage)}',
                                          throttle_duration_sec=_LOG_THROTTLE_S)
        else:
            view, info = image_to_array(fields, self._max_pixels)
        native = NATIVE_ORDER.get(info.name)
        if native in orders and (native == self._order or count == 1):
            # The preprocessing resizes first and swaps or picks channels on the small image
            # (a batch shares one order: there, only the model's own is read as is).
            return (view[:, :, 0] if native == 'GRAY' else view), str(native), header
        converted = to_model_order(view, info, self._order, out=self._buffers[slot])
        self._buffers[slot] = converted if converted.nbytes <= _KEPT_BUFFER_BYTES else None
        return ((converted[:, :, 0] if self._order == 'GRAY' else converted), self._order,
                header)

    def _publish(self, frame: Frame, header: Header,
                 results: List[Tuple[int, str, float]]) -> None:
        msg = Classification()
        msg.header = header
        by_index = self._class_id_is_index
        msg.results = [ObjectHypothesis(class_id=str(index) if by_index else label, score=score)
                       for index, label, score in results]
        self._classification_pub.publish(msg)
        self._latest_results = results
        self._stats.count('published')
        timings = {'in_node': (time.perf_counter_ns() - frame.received_ns) / 1e6}
        stamp_ns = header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
        if stamp_ns > 0:  # an unstamped (or negative) stamp has no latency to show
            timings['end_to_end'] = (self.get_clock().now().nanoseconds - stamp_ns) / 1e6
        self._stats.record(timings)

    # -- parameters, labels, diagnostics -------------------------------------------------

    def _on_set_parameters(self, parameters: List[Any]) -> SetParametersResult:
        # rclpy.parameter.Parameter: generic in newer rclpy only, so typed loosely here.
        top_k, threshold = self._param('top_k'), self._param('score_threshold')
        for parameter in parameters:
            if parameter.name == 'top_k':
                top_k = int(parameter.value)
            elif parameter.name == 'score_threshold':
                threshold = float(parameter.value)
        classifier = self._classifier
        if classifier is None:  # configure reads them
            return SetParametersResult(successful=True)
        changed_threshold = threshold != classifier.score_threshold
        try:
            classifier.set_limits(top_k, threshold)
        except DlaInferError as e:
            return SetParametersResult(successful=False, reason=str(e))
        if changed_threshold:
            self._publish_label_info()  # LabelInfo carries the threshold: keep it current
        return SetParametersResult(successful=True)

    def _publish_label_info(self) -> None:
        msg = LabelInfo()
        msg.header.stamp = self.get_clock().now().to_msg()
        classifier = self._classifier
        if classifier is None:
            return
        postprocessor = classifier.postprocessor
        labels = postprocessor.labels if postprocessor is not None else ()
        msg.class_map = [VisionClass(class_id=i, class_name=label)
                         for i, label in enumerate(labels)]
        msg.threshold = float(classifier.score_threshold)
        self._label_pub.publish(msg)

    def latest_results(self) -> Sequence[Tuple[int, str, float]]:
        """:return: the newest frame's results (index, label, score), best first."""
        return self._latest_results

    def failure(self) -> str:
        """:return: why the node stopped serving, or '' while it serves."""
        return self._failure

    def finished(self) -> bool:
        """:return: True once the node was shut down through its lifecycle (finalized)."""
        return self._state == 'finalized'

    def stop_report(self) -> str:
        """:return: one line of what the node did, for its log when it stops."""
        counters = self._stats.counters()
        return 'frames: ' + ', '.join(f'{count} {name}' for name, count in counters.items())

    def _publish_diagnostics(self) -> None:
        classifier = self._classifier
        if classifier is None:
            return
        report = classifier.describe()
        with self._status_lock:  # the timer, and the inference thread when it stops
            content = self._status.build(report, self._stats.snapshot(), self._failure,
                                         self._state)
        if self._predicted_placement:
            content.values.append(('predicted_dla_placement', self._predicted_placement))
        status = DiagnosticStatus(
            level=bytes([content.level]), name=f'{self.get_fully_qualified_name()}: classifier',
            message=content.message, hardware_id=report.effective,
            values=[KeyValue(key=k, value=v) for k, v in content.values])
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(array)

    def destroy_node(self) -> None:
        """Stop the inference thread and free the model, then destroy the node."""
        if hasattr(self, '_failed'):  # else the constructor failed before anything was made
            self._release(STOP_WAIT_S, on_exit=True)
        super().destroy_node()
        # rclpy's LifecycleNode keeps its state machine, and with it the node's handle, past
        # destroy_node(): the node's logger would then go on publishing to a rosout whose
        # context is gone ("Failed to publish log message to rosout").
        machine = getattr(self, '_state_machine', None)
        if machine is not None:
            machine.destroy_when_not_in_use()


def main(args: Optional[List[str]] = None) -> None:
    """Run one classifier node until shutdown."""
    spin_node(ClassifierNode, 'classifier', args,
              {name: (entry.default, _descriptor(entry)) for name, entry in PARAMETERS.items()})


if __name__ == '__main__':
    main()
