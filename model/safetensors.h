// model/safetensors.h — reading and writing the safetensors format
// (8-byte little-endian header length N, N bytes of JSON header, then the raw little-endian data).
//
// Reading maps the file with mmap and hands out tensors that point into the mapping without a copy;
// each tensor keeps the mapping alive. Open() validates the whole header before anything is read:
// a truncated file, a header whose offsets overlap, leave holes, exceed the file or disagree with
// the dtype and shape, an unknown dtype or malformed JSON each throw iranker::Error naming the file
// and the tensor (kDataLoss for truncation/corruption, kInvalidArgument for bad content).
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace iranker {

class SafetensorsFile {
 public:
  struct Entry {
    std::string name;
    std::string dtype;  // safetensors name: F32, BF16, F16, F64, I64, I32, I16, I8, U8, BOOL
    c10::ScalarType scalar_type;
    std::vector<int64_t> shape;
    uint64_t begin = 0, end = 0;  // byte offsets into the data section
  };

  static std::shared_ptr<SafetensorsFile> Open(const std::string& path);
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const std::vector<Entry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const Entry* Find(const std::string& name) const;

  // A CPU tensor viewing the mapped bytes (read-only in spirit: do not write to it).
  at::Tensor Tensor(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  const uint8_t* data_ = nullptr;  // start of the data section
  std::vector<Entry> entries_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
  std::weak_ptr<SafetensorsFile> self_;
  friend std::shared_ptr<SafetensorsFile> OpenImpl(const std::string&);
};

// Writes tensors (any device, any layout: copied to contiguous CPU) to `path` through a temporary
// file, fsync and rename. Names must be unique. metadata goes into "__metadata__" ({"format":"pt"}
// is added when absent, as transformers expects).
void WriteSafetensors(const std::string& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      std::map<std::string, std::string> metadata = {});

const char* SafetensorsDtypeName(c10::ScalarType t);

}  // namespace iranker
