#include "comm/weight_blob.h"

#include <cstring>

#include "base/bytes.h"
#include "base/error.h"
#include "comm/wire.h"

namespace iranker::comm {

namespace {

constexpr uint32_t kBlobMagic = 0x54575249;  // "IRWT"
constexpr uint32_t kBlobFormat = 1;
constexpr size_t kAlign = 64;

size_t AlignUp(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

bool ShapeBytes(DType d, const std::vector<int64_t>& shape, size_t* bytes) {
  size_t n = DTypeSize(d);
  if (n == 0) return false;
  for (int64_t s : shape) {
    if (s < 0) return false;
    if (s != 0 && n > SIZE_MAX / static_cast<size_t>(s)) return false;
    n *= static_cast<size_t>(s);
  }
  *bytes = n;
  return true;
}

}  // namespace

uint64_t ChunkListHash(const std::vector<uint64_t>& chunk_hash) {
  return Checksum64(chunk_hash.data(), chunk_hash.size() * sizeof(uint64_t));
}

size_t DTypeSize(DType d) {
  switch (d) {
    case DType::kFloat32:
    case DType::kInt32:
      return 4;
    case DType::kFloat16:
    case DType::kBFloat16:
      return 2;
    case DType::kFloat64:
    case DType::kInt64:
      return 8;
    case DType::kInt8:
    case DType::kUInt8:
    case DType::kBool:
      return 1;
  }
  return 0;
}

const char* DTypeName(DType d) {
  switch (d) {
    case DType::kFloat32:
      return "float32";
    case DType::kFloat16:
      return "float16";
    case DType::kBFloat16:
      return "bfloat16";
    case DType::kFloat64:
      return "float64";
    case DType::kInt64:
      return "int64";
    case DType::kInt32:
      return "int32";
    case DType::kInt8:
      return "int8";
    case DType::kUInt8:
      return "uint8";
    case DType::kBool:
      return "bool";
  }
  return "?";
}

const WeightSet::Entry* WeightSet::Find(const std::string& name) const {
  for (const auto& e : tensors)
    if (e.name == name) return &e;
  return nullptr;
}

BlobLayout LayOutWeights(uint64_t version, const std::vector<TensorView>& tensors) {
  BlobLayout layout;
  std::string& manifest = layout.manifest;
  ByteWriter w(&manifest);
  w.Put(kBlobMagic);
  w.Put(kBlobFormat);
  w.Put(version);
  w.Put(static_cast<uint32_t>(tensors.size()));
  size_t manifest_size = manifest.size();
  for (const auto& t : tensors)
    manifest_size += 4 + t.name.size() + 1 + 4 + 8 * t.shape.size() + 8 + 8;
  size_t offset = AlignUp(manifest_size);
  for (const auto& t : tensors) {
    size_t expect = 0;
    if (!ShapeBytes(t.dtype, t.shape, &expect) || expect != t.nbytes)
      Fail(ErrorCode::kInvalidArgument, "weight '", t.name, "': ", t.nbytes,
           " bytes do not match its shape and dtype ", DTypeName(t.dtype));
    layout.offsets.push_back(offset);
    w.PutString(t.name);
    w.Put(static_cast<uint8_t>(t.dtype));
    w.Put(static_cast<uint32_t>(t.shape.size()));
    for (int64_t s : t.shape) w.Put(s);
    w.Put(static_cast<uint64_t>(offset));
    w.Put(static_cast<uint64_t>(t.nbytes));
    offset = AlignUp(offset + t.nbytes);
  }
  IR_CHECK_EQ(manifest.size(), manifest_size);
  layout.size = offset;
  return layout;
}

void WriteWeights(const BlobLayout& layout, const std::vector<TensorView>& tensors, char* dst) {
  std::memcpy(dst, layout.manifest.data(), layout.manifest.size());
  size_t end = layout.manifest.size();
  for (size_t i = 0; i < tensors.size(); ++i) {
    std::memset(dst + end, 0, layout.offsets[i] - end);
    if (tensors[i].nbytes) std::memcpy(dst + layout.offsets[i], tensors[i].data, tensors[i].nbytes);
    end = layout.offsets[i] + tensors[i].nbytes;
  }
  std::memset(dst + end, 0, layout.size - end);
}

std::string SerializeWeights(uint64_t version, const std::vector<TensorView>& tensors) {
  BlobLayout layout = LayOutWeights(version, tensors);
  std::string blob(layout.size, '\0');
  WriteWeights(layout, tensors, blob.data());
  return blob;
}

bool ParseWeights(std::shared_ptr<const std::string> blob, WeightSet* out, std::string* why) {
  auto bad = [&](const std::string& w) {
    if (why) *why = w;
    return false;
  };
  if (!blob) return bad("no blob");
  ByteReader r(blob->data(), blob->size());
  uint32_t magic = 0, format = 0, count = 0;
  WeightSet ws;
  if (!r.Get(&magic) || magic != kBlobMagic) return bad("not a weight blob (magic)");
  if (!r.Get(&format) || format != kBlobFormat) return bad("unknown weight blob format");
  if (!r.Get(&ws.version) || !r.GetCount(&count, 4 + 1 + 4 + 16)) return bad("truncated manifest");
  ws.tensors.resize(count);
  for (auto& e : ws.tensors) {
    uint8_t dtype = 0;
    uint32_t ndim = 0;
    uint64_t off = 0, n = 0;
    if (!r.GetString(&e.name) || !r.Get(&dtype) || !r.GetCount(&ndim, 8))
      return bad("truncated manifest entry");
    e.dtype = static_cast<DType>(dtype);
    e.shape.resize(ndim);
    for (auto& s : e.shape)
      if (!r.Get(&s)) return bad("truncated shape");
    if (!r.Get(&off) || !r.Get(&n)) return bad("truncated manifest entry");
    size_t expect = 0;
    if (!ShapeBytes(e.dtype, e.shape, &expect) || expect != n)
      return bad("tensor '" + e.name + "': size does not match shape/dtype");
    if (off > blob->size() || n > blob->size() - off)
      return bad("tensor '" + e.name + "' lies outside the blob");
    e.offset = off;
    e.nbytes = n;
  }
  ws.blob = std::move(blob);
  *out = std::move(ws);
  return true;
}

}  // namespace iranker::comm
