// The NCCL transport of the weight broadcast's group path, where no GPU is visible: a clear error
// naming the setting (the transport itself is exercised by the GPU checks; the control plane by
// tests/comm/weight_group_test.cc with an in-process transport).
#include "collective/nccl_weight_group.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace iranker::collective {
namespace {

TEST(collectiveNcclWeightGroup, TheNcclTransportNeedsAGpuAndSaysSo) {
  try {
    MakeNcclGroupTransport(0);
    GTEST_SKIP() << "a CUDA device is visible here: covered by the GPU checks";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(std::string(e.what()).find("comm.weights.group"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace iranker::collective
