#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/atomic_file.h"
#include "base/error.h"

namespace iranker {
using nlohmann::json;

namespace {
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

struct DtypeInfo {
  const char* name;
  c10::ScalarType type;
  int size;
};
const DtypeInfo kDtypes[] = {
    {"F32", torch::kFloat32, 4}, {"BF16", torch::kBFloat16, 2}, {"F16", torch::kFloat16, 2},
    {"F64", torch::kFloat64, 8}, {"I64", torch::kInt64, 8},     {"I32", torch::kInt32, 4},
    {"I16", torch::kInt16, 2},   {"I8", torch::kInt8, 1},       {"U8", torch::kUInt8, 1},
    {"BOOL", torch::kBool, 1},
};

const DtypeInfo* FindDtype(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}
}  // namespace

const char* SafetensorsDtypeName(c10::ScalarType t) {
  for (const auto& d : kDtypes)
    if (d.type == t) return d.name;
  Fail(ErrorCode::kInvalidArgument, "dtype ", c10::toString(t), " cannot be stored in safetensors");
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, map_size_);
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) Fail(ErrorCode::kNotFound, path, ": no such file");
    Fail(ErrorCode::kFailedPrecondition, path, ": cannot open: ", std::strerror(errno));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    Fail(ErrorCode::kInternal, path, ": cannot stat");
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    Fail(ErrorCode::kDataLoss, path, ": truncated (", size,
         " bytes; a safetensors file starts with an 8-byte header length)");
  }
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  f->map_size_ = size;
  f->map_ = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (f->map_ == MAP_FAILED) {
    f->map_ = nullptr;
    Fail(ErrorCode::kInternal, path, ": mmap failed: ", std::strerror(errno));
  }
  const auto* bytes = static_cast<const uint8_t*>(f->map_);
  uint64_t n = 0;
  std::memcpy(&n, bytes, 8);  // little-endian host
  if (n > kMaxHeaderBytes)
    Fail(ErrorCode::kDataLoss, path, ": header length ", n, " is implausible (corrupt file?)");
  if (8 + n > size)
    Fail(ErrorCode::kDataLoss, path, ": truncated: header says ", n, " bytes but the file has ",
         size - 8);
  json header;
  try {
    header = json::parse(bytes + 8, bytes + 8 + n);
  } catch (const json::exception& e) {
    Fail(ErrorCode::kDataLoss, path, ": header is not valid JSON: ", e.what());
  }
  if (!header.is_object()) Fail(ErrorCode::kDataLoss, path, ": header is not a JSON object");
  f->data_ = bytes + 8 + n;
  const uint64_t data_size = size - 8 - n;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object())
        Fail(ErrorCode::kInvalidArgument, path, ": __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m)
        if (m.value().is_string()) f->metadata_[m.key()] = m.value().get<std::string>();
      continue;
    }
    auto bad = [&](const std::string& why) {
      Fail(ErrorCode::kInvalidArgument, path, ": tensor '", name, "': ", why);
    };
    if (!v.is_object()) bad("entry is not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) bad("missing or bad 'dtype'");
    if (!v.contains("shape") || !v["shape"].is_array()) bad("missing or bad 'shape'");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() ||
        v["data_offsets"].size() != 2)
      bad("missing or bad 'data_offsets'");
    Entry e;
    e.name = name;
    e.dtype = v["dtype"].get<std::string>();
    const DtypeInfo* info = FindDtype(e.dtype);
    if (!info) bad("unsupported dtype '" + e.dtype + "'");
    e.scalar_type = info->type;
    uint64_t numel = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0))
        bad("shape has a non-integer or negative dimension");
      uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > (UINT64_MAX / 16) / dim) bad("shape is too large");
      numel *= dim;
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    const auto& off = v["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      bad("data_offsets are not non-negative integers");
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    if (e.begin > e.end) bad("data_offsets are reversed");
    if (e.end > data_size)
      bad("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
          ") exceed the data section of " + std::to_string(data_size) + " bytes (truncated file?)");
    if (e.end - e.begin != numel * info->size)
      bad("data_offsets span " + std::to_string(e.end - e.begin) + " bytes but " + e.dtype +
          " with this shape needs " + std::to_string(numel * info->size));
    f->index_[name] = f->entries_.size();
    f->entries_.push_back(std::move(e));
  }
  // The entries must tile the data section exactly: no overlap, no hole, nothing trailing.
  std::vector<const Entry*> sorted;
  for (const auto& e : f->entries_) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t pos = 0;
  for (const Entry* e : sorted) {
    if (e->begin < pos)
      Fail(ErrorCode::kDataLoss, path, ": tensor '", e->name, "' overlaps the tensor before it");
    if (e->begin > pos)
      Fail(ErrorCode::kDataLoss, path, ": a hole of ", e->begin - pos, " bytes precedes tensor '",
           e->name, "'");
    pos = e->end;
  }
  if (pos != data_size)
    Fail(ErrorCode::kDataLoss, path, ": ", data_size - pos,
         " bytes after the last tensor are not described by the header");
  f->self_ = f;
  return f;
}

const SafetensorsFile::Entry* SafetensorsFile::Find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

at::Tensor SafetensorsFile::Tensor(const std::string& name) const {
  const Entry* e = Find(name);
  if (!e) Fail(ErrorCode::kNotFound, path_, ": no tensor named '", name, "'");
  auto keep = self_.lock();
  IR_CHECK(keep != nullptr);
  void* ptr = const_cast<uint8_t*>(data_ + e->begin);
  return torch::from_blob(
      ptr, e->shape, [keep](void*) {}, torch::TensorOptions().dtype(e->scalar_type));
}

void WriteSafetensors(const std::string& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      std::map<std::string, std::string> metadata) {
  std::vector<at::Tensor> data;
  json header = json::object();
  if (!metadata.count("format")) metadata["format"] = "pt";
  header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (header.contains(name))
      Fail(ErrorCode::kInvalidArgument, path, ": duplicate tensor name '", name, "'");
    at::Tensor c = t.detach().to(torch::kCPU).contiguous();
    uint64_t bytes = c.numel() * c.element_size();
    header[name] = {{"dtype", SafetensorsDtypeName(c.scalar_type())},
                    {"shape", c.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.push_back(c);
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');  // align the data section, as safetensors does
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    Fail(ErrorCode::kFailedPrecondition, "cannot create '", tmp, "': ", std::strerror(errno));
  auto write_all = [&](const void* p, size_t n) {
    const char* c = static_cast<const char*>(p);
    while (n > 0) {
      ssize_t w = ::write(fd, c, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        Fail(err == ENOSPC || err == EFBIG ? ErrorCode::kResourceExhausted : ErrorCode::kInternal,
             "cannot write '", tmp, "': ", std::strerror(err));
      }
      c += w;
      n -= static_cast<size_t>(w);
    }
  };
  uint64_t n = h.size();
  write_all(&n, 8);
  write_all(h.data(), h.size());
  for (const auto& c : data) write_all(c.data_ptr(), c.numel() * c.element_size());
  if (::fsync(fd) != 0) {
    ::close(fd);
    ::unlink(tmp.c_str());
    Fail(ErrorCode::kInternal, "fsync failed for '", tmp, "'");
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    Fail(ErrorCode::kInternal, "cannot rename '", tmp, "' to '", path, "'");
  }
}

}  // namespace iranker
