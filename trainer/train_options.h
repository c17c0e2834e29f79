// trainer/train_options.h — the training schedule (`train:` section).
#pragma once

#include <cstdint>

#include "base/fields.h"

namespace iranker {

struct TrainOptions {
  int64_t steps = 100;           // optimizer steps
  int64_t eval_every = 0;        // evaluate on data.test every N steps (0 = start and end only)
  int64_t eval_queries = 0;      // queries per test dataset in periodic evaluations; 0 = all
  int64_t checkpoint_every = 0;  // checkpoint every N steps (0 = at the end only)
  int keep_checkpoints = 2;      // newest checkpoints kept
  int actors = 1;                // rollout actors (threads with --local, processes under mpirun)
  bool tensorboard = true;  // also write metrics as TensorBoard event files in the run directory

  template <class V>
  void Visit(V& v) {
    v.Field("steps", steps, "Optimizer steps.", AtLeast(1));
    v.Field("eval_every", eval_every, "Evaluate every N steps; 0 = at start and end only.",
            AtLeast(0));
    v.Field("eval_queries", eval_queries,
            "Queries per test dataset in periodic evaluations; 0 = all.", AtLeast(0));
    v.Field("checkpoint_every", checkpoint_every, "Checkpoint every N steps; 0 = at the end only.",
            AtLeast(0));
    v.Field("keep_checkpoints", keep_checkpoints, "Newest checkpoints kept.", AtLeast(1));
    v.Field("actors", actors, "Rollout actors.", AtLeast(1));
    v.Field("tensorboard", tensorboard,
            "Also write every metric as TensorBoard event files (run directory).");
  }
};

}  // namespace iranker
