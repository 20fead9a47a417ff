/*
 * Copyright 2026 The dla_infer_ros Authors
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

/*
 * Stand-in for libnvinfer: the entry points the TensorRT Python bindings link
 * against (nm -D --undefined-only tensorrt.so). Every factory returns NULL, so
 * the module imports and shows its real API, but no builder or runtime can be
 * made: these stubs exist only to read the bindings' surface in tests.
 */

#include <stddef.h>

void *createInferBuilder_INTERNAL(void *logger, int version)
{
  (void)logger;
  (void)version;
  return NULL;
}

void *createInferRefitter_INTERNAL(void *engine, void *logger, int version)
{
  (void)engine;
  (void)logger;
  (void)version;
  return NULL;
}

void *createInferRuntime_INTERNAL(void *logger, int version)
{
  (void)logger;
  (void)version;
  return NULL;
}

void *getBuilderPluginRegistry(int capability)
{
  (void)capability;
  return NULL;
}

void *getPluginRegistry(void)
{
  return NULL;
}
