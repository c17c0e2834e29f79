// collective/bucketer.h — the gradient bucketer: each parameter's gradient goes, as soon as
// autograd has accumulated it, into a bucket whose non-blocking all-reduce starts once the bucket
// is complete, so communication overlaps the rest of backward (collective/collective.h says more).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "collective/collective.h"

namespace iranker::collective {

struct BucketerStats {
  int buckets = 0;
  int64_t bytes = 0;                    // gradient bytes reduced per backward
  int buckets_started_in_backward = 0;  // buckets whose reduce overlapped backward (last pass)
  double finish_wait_seconds = 0;       // time FinishBackward waited on communication (last pass)
  int inplace_gradients = 0;            // direct gradients reduced where they lay (last pass)
  int64_t copied_bytes = 0;             // gradient bytes copied into buckets or buffers (last pass)
};

class GradientBucketer {
 public:
  // `params`: trainable parameters, each once, all on one device with one floating dtype (make
  // the bucketer after moving the model: BeginBackward fails on a parameter that changed dtype or
  // device). Buckets are filled in reverse parameter order (the order backward produces
  // gradients). Registers hooks on the parameters; the destructor removes them (not while a
  // backward runs).
  GradientBucketer(Collective& collective, const std::vector<at::Tensor>& params,
                   const AllreduceOptions& options);
  ~GradientBucketer();
  GradientBucketer(const GradientBucketer&) = delete;
  GradientBucketer& operator=(const GradientBucketer&) = delete;

  // Arms the hooks for the next backward (the one whose gradients are reduced; gradients already
  // accumulated in .grad() by earlier micro-batches are included).
  void BeginBackward();
  // Starts the buckets still pending (parameters without a gradient this pass count as zero),
  // waits for all, and writes the averaged gradients into every parameter's .grad().
  // A parameter whose accumulator runs twice in one armed backward (reentrant backward reaching
  // it twice) is an Error(kFailedPrecondition) thrown out of backward(): its memory may already
  // be in flight.
  void FinishBackward();
  BucketerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iranker::collective
