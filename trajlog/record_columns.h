// trajlog/record_columns.h — the HDF5 columns of one record type, made from its field list
// (trajectory/record.h): a dataset per field (scalars one element a row; strings and arrays flat)
// and, for each variable-length field, the u64 end offsets named in its Visit line (a field that
// names an earlier field's offsets shares them). Internal to trajlog/.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "base/error.h"
#include "trajlog/column.h"

namespace iranker::h5 {

// How a field's elements are stored: bool as u8, a string's characters as u8.
template <class T>
struct Stored {
  using type = T;
};
template <>
struct Stored<bool> {
  using type = uint8_t;
};
template <>
struct Stored<char> {
  using type = uint8_t;
};

template <class T>
hid_t NativeType() {
  using S = typename Stored<T>::type;
  if constexpr (std::is_same_v<S, uint64_t>) {
    return H5T_NATIVE_UINT64;
  } else if constexpr (std::is_same_v<S, int32_t>) {
    return H5T_NATIVE_INT32;
  } else if constexpr (std::is_same_v<S, float>) {
    return H5T_NATIVE_FLOAT;
  } else {
    static_assert(std::is_same_v<S, uint8_t>, "a record field of a type the log cannot store");
    return H5T_NATIVE_UINT8;
  }
}

template <class R>
class RecordColumns {
 public:
  // Creates every column in `group`: per-row columns chunked by `rows`, flat ones by `tokens`.
  void Create(hid_t group, hsize_t rows, hsize_t tokens, int deflate, const std::string& ctx) {
    Creator c{this, group, rows, tokens, deflate, ctx};
    R::Visit(c);
  }
  // Opens every column of an existing log; a missing one throws Error naming it, unless it is a
  // field of `absent` (a log of an earlier version: those records read it as empty).
  void Open(hid_t group, const std::string& ctx, const std::set<std::string>& absent = {}) {
    Opener o{this, group, ctx, absent};
    R::Visit(o);
  }

  // Appends the records (one write per column). Returns the payload bytes handed to HDF5.
  int64_t Append(const std::vector<R>& records) {
    Appender a{this, records};
    R::Visit(a);
    return a.bytes;
  }

  // Rows every per-row column holds (the writer extends them one by one).
  int64_t Rows() const {
    hsize_t n = UINT64_MAX;
    for (const std::string& name : per_row_) n = std::min(n, columns_.at(name).size());
    return static_cast<int64_t>(n);
  }
  void Refresh() {
    for (auto& [name, c] : columns_) c.Refresh();
  }

  // Rows [begin, end) (end <= Rows()).
  std::vector<R> Read(int64_t begin, int64_t end, const std::string& path) const {
    std::vector<R> out(static_cast<size_t>(std::max<int64_t>(0, end - begin)));
    if (out.empty()) return out;
    Reader r{this, begin, end, path, &out};
    R::Visit(r);
    return out;
  }

  const Column& column(const std::string& name) const { return columns_.at(name); }

 private:
  struct Creator {
    RecordColumns* self;
    hid_t group;
    hsize_t rows, tokens;
    int deflate;
    const std::string& ctx;
    template <class T>
    void Field(const char* name, T R::*, const char*, const char* ends = nullptr) {
      if constexpr (std::is_arithmetic_v<T>) {
        self->Add(name, Column::Create(group, name, NativeType<T>(), rows, deflate, ctx), true);
      } else {
        using E = typename T::value_type;
        self->Add(name, Column::Create(group, name, NativeType<E>(), tokens, deflate, ctx), false);
        if (self->owners_.emplace(ends, name).second)
          self->Add(ends, Column::Create(group, ends, H5T_NATIVE_UINT64, rows, deflate, ctx), true);
      }
    }
  };
  struct Opener {
    RecordColumns* self;
    hid_t group;
    const std::string& ctx;
    const std::set<std::string>& absent;
    template <class T>
    void Field(const char* name, T R::*, const char*, const char* ends = nullptr) {
      if (absent.count(name) && H5Lexists(group, name, H5P_DEFAULT) <= 0) return;
      self->Add(name, Column::Open(group, name, ctx), std::is_arithmetic_v<T>);
      if constexpr (!std::is_arithmetic_v<T>) {
        if (self->owners_.emplace(ends, name).second)
          self->Add(ends, Column::Open(group, ends, ctx), true);
      }
    }
  };
  struct Appender {
    RecordColumns* self;
    const std::vector<R>& records;
    int64_t bytes = 0;
    template <class T>
    void Field(const char* name, T R::*member, const char*, const char* ends = nullptr) {
      Column& col = self->columns_.at(name);
      if constexpr (std::is_arithmetic_v<T>) {
        using S = typename Stored<T>::type;
        std::vector<S> values;
        values.reserve(records.size());
        for (const R& r : records) values.push_back(static_cast<S>(r.*member));
        col.Append(values);
        bytes += values.size() * sizeof(S);
      } else {
        using S = typename Stored<typename T::value_type>::type;
        std::vector<S> flat;
        std::vector<uint64_t> end_offsets;
        end_offsets.reserve(records.size());
        uint64_t& total = self->totals_[name];
        for (const R& r : records) {
          const T& v = r.*member;
          flat.insert(flat.end(), v.begin(), v.end());
          end_offsets.push_back(total + flat.size());
        }
        col.Append(flat);
        total += flat.size();
        bytes += flat.size() * sizeof(S);
        if (self->owners_.at(ends) == name) {
          self->columns_.at(ends).Append(end_offsets);
          bytes += end_offsets.size() * sizeof(uint64_t);
        }
      }
    }
  };
  struct Reader {
    const RecordColumns* self;
    int64_t begin, end;
    const std::string& path;
    std::vector<R>* out;
    template <class T>
    void Field(const char* name, T R::*member, const char*, const char* ends = nullptr) {
      if (!self->columns_.count(name)) return;  // absent from an earlier version's log
      const Column& col = self->columns_.at(name);
      const hsize_t n = static_cast<hsize_t>(end - begin);
      if constexpr (std::is_arithmetic_v<T>) {
        std::vector<typename Stored<T>::type> values;
        col.Read(begin, n, NativeType<T>(), &values);
        for (hsize_t i = 0; i < n; ++i) (*out)[i].*member = static_cast<T>(values[i]);
      } else {
        using E = typename T::value_type;
        // Row i spans [end[i-1], end[i]) of the flat data (0 for the first row of the log).
        std::vector<uint64_t> offsets;
        const int64_t lo = std::max<int64_t>(0, begin - 1);
        self->columns_.at(ends).Read(lo, end - lo, H5T_NATIVE_UINT64, &offsets);
        const uint64_t first = begin == 0 ? 0 : offsets[0];
        const uint64_t last = offsets.back();
        if (last < first || last > col.size())
          Fail(ErrorCode::kDataLoss, path, ": ", name, ": offsets in ", ends,
               " exceed its data (corrupted file?)");
        std::vector<typename Stored<E>::type> flat;
        col.Read(first, last - first, NativeType<E>(), &flat);
        uint64_t prev = first;
        for (size_t k = (begin == 0 ? 0 : 1), i = 0; k < offsets.size(); ++k, ++i) {
          if (offsets[k] < prev)
            Fail(ErrorCode::kDataLoss, path, ": ", name, ": offsets in ", ends,
                 " decrease (corrupted file?)");
          (*out)[i].*member = T(flat.begin() + (prev - first), flat.begin() + (offsets[k] - first));
          prev = offsets[k];
        }
      }
    }
  };

  void Add(const std::string& name, Column c, bool per_row) {
    columns_.emplace(name, std::move(c));
    if (per_row) per_row_.push_back(name);
  }

  std::map<std::string, Column> columns_;
  std::vector<std::string> per_row_;           // one element a row: scalars, end offsets
  std::map<std::string, std::string> owners_;  // end-offset column -> the field that writes it
  std::map<std::string, uint64_t> totals_;     // writer: elements in each flat column so far
};

}  // namespace iranker::h5
