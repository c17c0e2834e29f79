// trajlog/column.h — one growing 1-D HDF5 dataset (chunked, optionally deflated). Internal.
#pragma once

#include <string>
#include <vector>

#include "trajlog/h5.h"

namespace iranker::h5 {

class Column {
 public:
  // Creates `name` in `group` with element type `type` (a predefined native type, not owned).
  static Column Create(hid_t group, const std::string& name, hid_t type, hsize_t chunk, int deflate,
                       const std::string& context);
  // Opens an existing column.
  static Column Open(hid_t group, const std::string& name, const std::string& context);

  void Append(const void* data, hsize_t n);
  template <class T>
  void Append(const std::vector<T>& v) {
    Append(v.data(), v.size());
  }
  // Reads [begin, begin + n) into out (resized); the element type must match.
  template <class T>
  void Read(hsize_t begin, hsize_t n, hid_t mem_type, std::vector<T>* out) const {
    out->resize(n);
    if (n) ReadRaw(begin, n, mem_type, out->data());
  }
  hsize_t size() const;  // current extent (after Refresh for readers)
  void Refresh();        // SWMR readers: pick up the writer's appends
  void Flush();

 private:
  void ReadRaw(hsize_t begin, hsize_t n, hid_t mem_type, void* out) const;
  Handle ds_;
  hid_t type_ = -1;
  hsize_t size_ = 0;
  std::string context_;
};

}  // namespace iranker::h5
