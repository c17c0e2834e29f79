// collective/nccl_weight_group.h — the NCCL transport of the weight broadcast's group path
// (comm/weight_group.h): learner rank 0 and the actors on GPUs broadcast each new policy version
// with ncclBroadcast, ZeroMQ staying the control plane and the fallback.
#pragma once

#include <memory>

#include "comm/weight_group.h"

namespace iranker::collective {

// NCCL over CUDA device `device`: the blob goes through one device buffer of at most 64 MB, piece
// by piece: copied in on the root, broadcast with ncclBroadcast on a stream of its own, copied
// back on the members (the blob stays in host memory so that it is verified and applied like a
// ZeroMQ download; pinned staging buffers would save copies). The communicator is
// created non-blocking so that a join or broadcast past its time-out is aborted
// (ncclCommAbort), never left hanging. Throws Error(kFailedPrecondition) when this iranker was
// built without NCCL or no CUDA device is visible.
std::unique_ptr<comm::GroupTransport> MakeNcclGroupTransport(int device);

}  // namespace iranker::collective
