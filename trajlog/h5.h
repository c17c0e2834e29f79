// trajlog/h5.h — RAII for HDF5 handles and the checked-call macro. Internal to trajlog/.
#pragma once

#include <hdf5.h>

#include <string>

namespace iranker::h5 {

// Owns an hid_t and closes it with the matching H5*close on destruction.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      Reset();
      id_ = o.id_;
      close_ = o.close_;
      o.id_ = H5I_INVALID_HID;
    }
    return *this;
  }
  ~Handle() { Reset(); }
  void Reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = H5I_INVALID_HID;
  }
  hid_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  herr_t (*close_)(hid_t) = nullptr;
};

// Throws iranker::Error naming `what` and `context` (file, dataset) when an HDF5 call fails.
[[noreturn]] void Failed(const std::string& what, const std::string& context);

// Silences HDF5's automatic error printing for the life of the object (errors become Errors).
class QuietErrors {
 public:
  QuietErrors();
  ~QuietErrors();

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

}  // namespace iranker::h5

#define IR_H5(call, context)                                  \
  ([&]() {                                                    \
    auto ir_h5_r = (call);                                    \
    if (ir_h5_r < 0) ::iranker::h5::Failed(#call, (context)); \
    return ir_h5_r;                                           \
  }())
