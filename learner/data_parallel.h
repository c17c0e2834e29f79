// learner/data_parallel.h — the learner's DataParallel (learner/learner.h) over a collective
// (collective/collective.h): gradients averaged over the learner ranks, scalars summed.
//
// Parameters of one dtype and device go through a collective::GradientBucketer: armed before a
// step's last backward, its buckets are reduced while the rest of that backward runs, and the
// gradients end as slots of the averaged buckets. Otherwise (mixed dtypes: the same decision on
// every rank, as every rank holds the same model) one flat all-reduce of every gradient. One
// bucketer per parameter set (the policy's, the critic's), made on its first use.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collective/bucketer.h"
#include "collective/collective.h"
#include "learner/learner.h"

namespace iranker {

class CollectiveDataParallel : public DataParallel {
 public:
  CollectiveDataParallel(collective::Collective& c, const collective::AllreduceOptions& o)
      : c_(c), opt_(o) {}
  int rank() const override { return c_.rank(); }
  int world_size() const override { return c_.size(); }
  void BeforeLastBackward(const std::vector<at::Tensor>& params) override;
  void AverageGradients(const std::vector<at::Tensor>& params) override;
  std::map<std::string, double> LastStats() const override { return last_; }
  double SumScalar(double x) override;
  collective::Collective* collective() override { return &c_; }

 private:
  collective::GradientBucketer* BucketerFor(const std::vector<at::Tensor>& params);
  void FlatAverage(const std::vector<at::Tensor>& params);

  collective::Collective& c_;
  collective::AllreduceOptions opt_;
  // Per parameter set (policy, critic), keyed by its first parameter; null: flat averaging.
  std::map<const void*, std::unique_ptr<collective::GradientBucketer>> bucketers_;
  collective::GradientBucketer* armed_ = nullptr;
  std::map<std::string, double> last_;
};

}  // namespace iranker
