#include "trajlog/h5.h"

#include "base/error.h"

namespace iranker::h5 {

void Failed(const std::string& what, const std::string& context) {
  // The innermost HDF5 error message is the most specific one.
  std::string detail;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
        if (n == 0 && e->desc) *static_cast<std::string*>(data) = e->desc;
        return 0;
      },
      &detail);
  H5Eclear2(H5E_DEFAULT);
  Fail(ErrorCode::kInternal, context, ": HDF5 call failed: ", what,
       detail.empty() ? "" : " (" + detail + ")");
}

QuietErrors::QuietErrors() {
  H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

QuietErrors::~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }

}  // namespace iranker::h5
