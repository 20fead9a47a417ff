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

// Stand-in for libnvparsers (TensorRT 8.x only): the four C++ symbols the 8.6
// bindings import from the UFF and Caffe parsers (see nvinfer_stub.c).

namespace nvuffparser
{
enum class FieldType : int { kFLOAT = 0 };

class IUffParser;

class FieldMap
{
public:
  FieldMap(const char * name, const void * data, FieldType type, int length = 1);
  const char * name;
  const void * data;
  FieldType type;
  int length;
};

FieldMap::FieldMap(const char * name_, const void * data_, FieldType type_, int length_)
: name(name_), data(data_), type(type_), length(length_)
{
}

IUffParser * createUffParser()
{
  return nullptr;
}
}  // namespace nvuffparser

namespace nvcaffeparser1
{
class ICaffeParser;

ICaffeParser * createCaffeParser()
{
  return nullptr;
}

void shutdownProtobufLibrary()
{
}
}  // namespace nvcaffeparser1
