#include "trajlog/column.h"

namespace iranker::h5 {

Column Column::Create(hid_t group, const std::string& name, hid_t type, hsize_t chunk, int deflate,
                      const std::string& context) {
  Column c;
  c.context_ = context + ":" + name;
  hsize_t dims[1] = {0}, max[1] = {H5S_UNLIMITED}, ch[1] = {chunk};
  Handle space(IR_H5(H5Screate_simple(1, dims, max), c.context_), H5Sclose);
  Handle dcpl(IR_H5(H5Pcreate(H5P_DATASET_CREATE), c.context_), H5Pclose);
  IR_H5(H5Pset_chunk(dcpl.get(), 1, ch), c.context_);
  if (deflate > 0) {
    IR_H5(H5Pset_shuffle(dcpl.get()), c.context_);
    IR_H5(H5Pset_deflate(dcpl.get(), deflate), c.context_);
  }
  c.ds_ = Handle(IR_H5(H5Dcreate2(group, name.c_str(), type, space.get(), H5P_DEFAULT, dcpl.get(),
                                  H5P_DEFAULT),
                       c.context_),
                 H5Dclose);
  c.type_ = type;
  return c;
}

Column Column::Open(hid_t group, const std::string& name, const std::string& context) {
  Column c;
  c.context_ = context + ":" + name;
  c.ds_ = Handle(IR_H5(H5Dopen2(group, name.c_str(), H5P_DEFAULT), c.context_), H5Dclose);
  c.Refresh();
  return c;
}

void Column::Append(const void* data, hsize_t n) {
  if (n == 0) return;
  hsize_t new_size[1] = {size_ + n};
  IR_H5(H5Dset_extent(ds_.get(), new_size), context_);
  Handle file_space(IR_H5(H5Dget_space(ds_.get()), context_), H5Sclose);
  hsize_t start[1] = {size_}, count[1] = {n};
  IR_H5(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr),
        context_);
  Handle mem_space(IR_H5(H5Screate_simple(1, count, nullptr), context_), H5Sclose);
  IR_H5(H5Dwrite(ds_.get(), type_, mem_space.get(), file_space.get(), H5P_DEFAULT, data), context_);
  size_ += n;
}

hsize_t Column::size() const { return size_; }

void Column::Refresh() {
  {
    QuietErrors quiet;  // H5Drefresh fails harmlessly on files not opened for SWMR reading
    H5Drefresh(ds_.get());
    H5Eclear2(H5E_DEFAULT);
  }
  Handle space(IR_H5(H5Dget_space(ds_.get()), context_), H5Sclose);
  hsize_t dims[1] = {0};
  IR_H5(H5Sget_simple_extent_dims(space.get(), dims, nullptr), context_);
  size_ = dims[0];
}

void Column::Flush() { IR_H5(H5Dflush(ds_.get()), context_); }

void Column::ReadRaw(hsize_t begin, hsize_t n, hid_t mem_type, void* out) const {
  Handle file_space(IR_H5(H5Dget_space(ds_.get()), context_), H5Sclose);
  hsize_t start[1] = {begin}, count[1] = {n};
  IR_H5(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr),
        context_);
  Handle mem_space(IR_H5(H5Screate_simple(1, count, nullptr), context_), H5Sclose);
  IR_H5(H5Dread(ds_.get(), mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, out),
        context_);
}

}  // namespace iranker::h5
