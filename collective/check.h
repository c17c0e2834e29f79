// collective/check.h — the checked-call macros for every MPI, CUDA and NCCL call in collective/.
// A failed call throws iranker::Error naming the call, where it ran (the MPI rank, or the host)
// and the library's own message:
//   IR_MPI_CHECK(MPI_Barrier(comm));                       Error(kInternal), rank and host
//   IR_CUDA_CHECK(cudaSetDevice(d), ErrorCode::kInternal, "");      host
//   IR_NCCL_CHECK(ncclGroupEnd(), ErrorCode::kUnavailable, "weight group: ");
// The CUDA and NCCL macros expand only in the files compiled with IRANKER_WITH_NCCL, which include
// <cuda_runtime_api.h> and <nccl.h> themselves.
#pragma once

#include <string>

#include "base/error.h"
#include "base/host.h"
#include "collective/collective_util.h"  // MpiWorldRankName

#define IR_MPI_CHECK(call)                                                  \
  do {                                                                      \
    int ir_rc_ = (call);                                                    \
    if (ir_rc_ != MPI_SUCCESS) {                                            \
      char ir_msg_[MPI_MAX_ERROR_STRING];                                   \
      int ir_len_ = 0;                                                      \
      MPI_Error_string(ir_rc_, ir_msg_, &ir_len_);                          \
      ::iranker::Fail(::iranker::ErrorCode::kInternal, #call " failed on ", \
                      ::iranker::collective::MpiWorldRankName(), ": ",      \
                      std::string(ir_msg_, ir_len_));                       \
    }                                                                       \
  } while (0)

#define IR_CUDA_CHECK(call, code, prefix)                                                 \
  do {                                                                                    \
    cudaError_t ir_e_ = (call);                                                           \
    if (ir_e_ != cudaSuccess)                                                             \
      ::iranker::Fail(code, prefix #call " failed on host ", ::iranker::HostName(), ": ", \
                      cudaGetErrorString(ir_e_));                                         \
  } while (0)

#define IR_NCCL_CHECK(call, code, prefix)                                                 \
  do {                                                                                    \
    ncclResult_t ir_r_ = (call);                                                          \
    if (ir_r_ != ncclSuccess)                                                             \
      ::iranker::Fail(code, prefix #call " failed on host ", ::iranker::HostName(), ": ", \
                      ncclGetErrorString(ir_r_));                                         \
  } while (0)
