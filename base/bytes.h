// base/bytes.h — little-endian byte writer and bounds-checked reader behind every comm encoding.
//
// The writer appends to a std::string; the reader walks a borrowed buffer and turns every
// overrun into a false return (sticky: once failed, every later read fails), never into a crash.
// Array reads check `count * sizeof(T)` against the remaining bytes *before* allocating, so the
// memory a decode can allocate is bounded by the size of the buffer it decodes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace iranker {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the comm encodings copy scalars as little-endian: port the byte writer first");

class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}
  template <class T>
  void Put(T v) {
    static_assert(std::is_arithmetic_v<T>);
    out_->append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  void PutBool(bool b) { Put<uint8_t>(b ? 1 : 0); }
  void PutString(const std::string& s) {
    Put<uint32_t>(static_cast<uint32_t>(s.size()));
    out_->append(s);
  }
  template <class T>
  void PutArray(const std::vector<T>& v) {
    static_assert(std::is_arithmetic_v<T>);
    Put<uint32_t>(static_cast<uint32_t>(v.size()));
    out_->append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
  void PutBytes(const void* p, size_t n) { out_->append(static_cast<const char*>(p), n); }

 private:
  std::string* out_;
};

class ByteReader {
 public:
  ByteReader(const void* data, size_t size)
      : p_(static_cast<const uint8_t*>(data)), end_(p_ + size) {}

  template <class T>
  bool Get(T* v) {
    static_assert(std::is_arithmetic_v<T>);
    if (!ok_ || remaining() < sizeof(T)) return ok_ = false;
    std::memcpy(v, p_, sizeof(T));
    p_ += sizeof(T);
    return true;
  }
  bool GetBool(bool* b) {
    uint8_t v = 0;
    if (!Get(&v)) return false;
    if (v > 1) return ok_ = false;
    *b = v == 1;
    return true;
  }
  bool GetString(std::string* s, size_t max_len = SIZE_MAX) {
    uint32_t n = 0;
    if (!Get(&n)) return false;
    if (n > remaining() || n > max_len) return ok_ = false;
    s->assign(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  template <class T>
  bool GetArray(std::vector<T>* v) {
    static_assert(std::is_arithmetic_v<T>);
    uint32_t n = 0;
    if (!Get(&n)) return false;
    if (static_cast<uint64_t>(n) * sizeof(T) > remaining()) return ok_ = false;
    v->resize(n);
    if (n) std::memcpy(v->data(), p_, n * sizeof(T));
    p_ += n * sizeof(T);
    return true;
  }
  // Borrows `n` bytes without copying.
  bool GetSpan(size_t n, const uint8_t** out) {
    if (!ok_ || n > remaining()) return ok_ = false;
    *out = p_;
    p_ += n;
    return true;
  }
  // A count of items each at least `min_item_bytes` long: rejects counts that cannot fit.
  bool GetCount(uint32_t* n, size_t min_item_bytes) {
    if (!Get(n)) return false;
    if (min_item_bytes && static_cast<uint64_t>(*n) * min_item_bytes > remaining())
      return ok_ = false;
    return true;
  }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool ok() const { return ok_; }
  bool done() const { return ok_ && p_ == end_; }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  bool ok_ = true;
};

}  // namespace iranker
