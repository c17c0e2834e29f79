#include "base/error.h"

#include <gtest/gtest.h>

namespace iranker {
namespace {

TEST(Error, FailCarriesCodeAndMessage) {
  try {
    Fail(ErrorCode::kDataLoss, "file ", "x.bin", " truncated at ", 12);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kDataLoss);
    EXPECT_STREQ(e.what(), "file x.bin truncated at 12");
  }
}

TEST(ErrorDeathTest, CheckPrintsOperandsAndLocation) {
  int a = 3, b = 4;
  EXPECT_DEATH(IR_CHECK_EQ(a, b), "error_test.cc:[0-9]+: check failed: a == b \\(3 vs 4\\)");
}

}  // namespace
}  // namespace iranker
