// comm/weight_blob.h — the weight blob: a policy version's named tensors in one buffer with a
// manifest, the unit the weight broadcast (comm/weights.h) moves and checksums.
//
// Layout (little-endian): "IRWT", format version, policy version, tensor count, then per tensor
// {name, dtype, ndim, dims, offset, nbytes}; data regions follow, 64-byte aligned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/mutex.h"

namespace iranker::comm {

enum class DType : uint8_t {
  kFloat32 = 1,
  kFloat16 = 2,
  kBFloat16 = 3,
  kFloat64 = 4,
  kInt64 = 5,
  kInt32 = 6,
  kInt8 = 7,
  kUInt8 = 8,
  kBool = 9,
};
size_t DTypeSize(DType d);  // 0 for an unknown value
const char* DTypeName(DType d);

// A tensor to publish: borrowed memory, copied once into the blob by SerializeWeights.
struct TensorView {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;  // must equal product(shape) * DTypeSize(dtype)
};

// A received weight set: a manifest over one shared blob (no per-tensor copies). data(e) stays
// valid as long as the WeightSet (or a copy of its blob pointer) lives; wrap it with
// torch::from_blob and keep `blob` alive in the deleter.
struct WeightSet {
  struct Entry {
    std::string name;
    DType dtype = DType::kFloat32;
    std::vector<int64_t> shape;
    size_t offset = 0, nbytes = 0;  // into *blob; offsets are 64-byte aligned
  };
  uint64_t version = 0;
  std::vector<Entry> tensors;
  std::shared_ptr<const std::string> blob;

  const void* data(const Entry& e) const { return blob->data() + e.offset; }
  const Entry* Find(const std::string& name) const;
  size_t total_bytes() const { return blob ? blob->size() : 0; }
};

std::string SerializeWeights(uint64_t version, const std::vector<TensorView>& tensors);
// Validates and indexes a blob (every entry inside the blob, sizes consistent with shapes).
bool ParseWeights(std::shared_ptr<const std::string> blob, WeightSet* out, std::string* why);

// The blob's checksum: XXH3 of its chunks' XXH3 values in order. A subscriber verifies every
// chunk's data against its checksum as it arrives, so this covers every byte of the blob in its
// place without a second pass over it on either side.
uint64_t ChunkListHash(const std::vector<uint64_t>& chunk_hash);

// Where SerializeWeights puts what: the manifest, each tensor's offset, the total size. The
// publisher lays a version out, takes a buffer of that size (BlobRecycler) and writes it.
struct BlobLayout {
  std::string manifest;
  std::vector<size_t> offsets;
  size_t size = 0;
};
// Throws Error(kInvalidArgument) for a tensor whose bytes do not match its shape and dtype.
BlobLayout LayOutWeights(uint64_t version, const std::vector<TensorView>& tensors);
// Writes the blob into `dst` (layout.size bytes), every byte: padding is zeroed, so a recycled
// buffer gives the same bytes as a fresh one.
void WriteWeights(const BlobLayout& layout, const std::vector<TensorView>& tensors, char* dst);

// Keeps one released blob buffer for the next blob of the same size. A new policy version is
// almost always the size of the last, and a fresh buffer costs a page fault per 4 KiB page (the
// kernel zeroes each one): for a 1 GB model that is ~250k faults, more time than moving the
// bytes. At most one spare is kept, and only once a buffer was released, so the number of live
// buffers never exceeds what it was without recycling. Buffers come back from any thread (the
// last reference may be a ZeroMQ message or an actor's WeightSet).
class BlobRecycler : public std::enable_shared_from_this<BlobRecycler> {
 public:
  // A buffer of exactly `size` bytes whose contents the caller overwrites entirely.
  std::shared_ptr<std::string> Acquire(size_t size) {
    std::unique_ptr<std::string> buf;
    {
      MutexLock lock(mu_);
      if (spare_ && spare_->size() == size) buf = std::move(spare_);
      spare_.reset();  // a spare of another size is not kept
    }
    if (!buf) buf = std::make_unique<std::string>(size, '\0');
    std::weak_ptr<BlobRecycler> self = weak_from_this();
    return std::shared_ptr<std::string>(buf.release(), [self](std::string* p) {
      std::unique_ptr<std::string> owned(p);
      if (auto r = self.lock()) {
        MutexLock lock(r->mu_);
        std::swap(r->spare_, owned);  // an older spare is freed with `owned`
      }
    });
  }

 private:
  Mutex mu_;
  std::unique_ptr<std::string> spare_ IR_GUARDED_BY(mu_);
};

}  // namespace iranker::comm
