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

/* Stand-in for libnvonnxparser (see nvinfer_stub.c). */

#include <stddef.h>

#ifndef STUB_PARSER_VERSION
#define STUB_PARSER_VERSION 0
#endif

void *createNvOnnxParser_INTERNAL(void *network, void *logger, int version)
{
  (void)network;
  (void)logger;
  (void)version;
  return NULL;
}

/* Only TensorRT >= 10 links this one; defining it for 8.x too is harmless. */
void *createNvOnnxParserRefitter_INTERNAL(void *refitter, void *logger, int version)
{
  (void)refitter;
  (void)logger;
  (void)version;
  return NULL;
}

int getNvOnnxParserVersion(void)
{
  return STUB_PARSER_VERSION;
}
