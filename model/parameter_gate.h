// model/parameter_gate.h — where a training forward's parameters come from when they are sharded
// across ranks (learner.sharding = full; collective/sharded_optimizer.h).
//
// The model brackets each part of a training forward (DecoderLM::Part) with Acquire / Release,
// and asks for the part again, through a hook on the part's output, just before its backward
// runs. Between Acquire and Release the part's parameters hold their values; elsewhere they may
// hold no memory at all (their storage freed, shapes kept).
#pragma once

namespace iranker {

class ParameterGate {
 public:
  virtual ~ParameterGate() = default;
  // The parameters of `part` whole, now; `next` (-1: none) is the part the model will ask for
  // next, which the gate may start fetching.
  virtual void Acquire(int part, int next) = 0;
  // Forward is done with `part` (a no-op during backward).
  virtual void Release(int part) = 0;
};

}  // namespace iranker
