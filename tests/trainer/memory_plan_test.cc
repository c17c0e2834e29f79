#include "trainer/memory_plan.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace iranker {
namespace {

int64_t Component(const MemoryPlan& plan, size_t process, const std::string& name) {
  for (const auto& c : plan.processes.at(process).components)
    if (c.name == name) return c.bytes;
  return -1;
}

Config ThreeB() {
  Config c;
  c.model.preset = "qwen2.5-3b";
  c.model.device = "cuda";
  c.learner.algorithm = Algorithm::kPpo;
  c.learner.micro_batch_tokens = 4096;
  c.actor.max_seq_len = 2048;
  c.data.test.clear();
  return c;
}

TEST(MemoryPlan, ParsesSizesAndRejectsOthersNamingTheOption) {
  EXPECT_EQ(ParseByteSize("80GiB", "x"), 80LL << 30);
  EXPECT_EQ(ParseByteSize("24 GB", "x"), 24000000000LL);
  EXPECT_EQ(ParseByteSize("512mib", "x"), 512LL << 20);
  EXPECT_EQ(ParseByteSize("1e9", "x"), 1000000000LL);
  // Nothing that would silently turn the fit check off: zero, fractions of a byte, overflow.
  for (const char* bad : {"", "GiB", "80 parsecs", "-3GB", "0", "0.5", "1e-10GB", "1e19",
                          "10000000TiB", "nan", "inf"}) {
    try {
      ParseByteSize(bad, "--device-memory");
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--device-memory"), std::string::npos) << e.what();
    }
  }
}

TEST(MemoryPlan, ModelStateFollowsTheShardingLevel) {
  Config c = ThreeB();
  const ModelConfig m = PresetConfig("qwen2.5-3b");
  const int64_t p = m.NumParameters();
  const MemoryPlan none = PlanMemory(c, m, 4, 0);
  EXPECT_EQ(Component(none, 0, "policy weights"), 4 * p);
  EXPECT_EQ(Component(none, 0, "policy gradients"), 4 * p);
  EXPECT_EQ(Component(none, 0, "policy AdamW moments"), 8 * p);
  EXPECT_EQ(Component(none, 0, "critic weights"), 4 * (p + m.hidden_size + 1));
  EXPECT_EQ(Component(none, 0, "reference policy"), -1);  // kl_coef = 0

  c.learner.sharding = Sharding::kOptimizer;
  const MemoryPlan opt = PlanMemory(c, m, 4, 0);
  EXPECT_EQ(Component(opt, 0, "policy gradients"), 4 * p);
  EXPECT_EQ(Component(opt, 0, "policy AdamW moments"), (8 * p + 3) / 4);

  c.learner.sharding = Sharding::kGradients;
  const MemoryPlan grads = PlanMemory(c, m, 4, 0);
  const int64_t unit = static_cast<int64_t>(c.learner.shard_unit_mb * 1e6);
  EXPECT_EQ(Component(grads, 0, "policy gradients"), (4 * p + 3) / 4);
  // Up to 3 units out, each a send buffer and a receive slice; the embedding is a unit alone.
  const int64_t one = std::max(unit, m.vocab_size * m.hidden_size * 4);
  EXPECT_EQ(Component(grads, 0, "policy gradients in flight"), 3 * (one + one / 4));
  EXPECT_LT(grads.processes[0].total(), opt.processes[0].total());
  EXPECT_LT(opt.processes[0].total(), none.processes[0].total());
  // One rank: sharding changes nothing.
  EXPECT_EQ(PlanMemory(c, m, 1, 0).processes[0].total(),
            PlanMemory(ThreeB(), m, 1, 0).processes[0].total());
  // Rank 0 publishes the weights from host memory (no device bytes on a GPU); the others do not.
  EXPECT_EQ(Component(grads, 0, "weight publication"), 0);
  EXPECT_EQ(Component(grads, 1, "weight publication"), -1);

  // full: the weights are a slice too; a step gathers the head and 2 layers whole; rank 0 holds
  // the whole model between steps (evaluation phase), the others only at start-up.
  c.learner.sharding = Sharding::kFull;
  const MemoryPlan full = PlanMemory(c, m, 4, 0);
  EXPECT_EQ(Component(full, 0, "policy weights"), (4 * p + 3) / 4);
  EXPECT_EQ(Component(full, 1, "critic weights"), (4 * (p + m.hidden_size + 1) + 3) / 4);
  EXPECT_EQ(Component(full, 0, "policy gathered parts"),
            4 * (m.vocab_size * m.hidden_size + 2 * m.LayerParameters()));
  EXPECT_EQ(Component(full, 0, "policy whole between steps"), 4 * p - (4 * p + 3) / 4);
  EXPECT_EQ(Component(full, 1, "policy whole between steps"), -1);
  EXPECT_EQ(Component(full, 1, "policy whole at start-up"), 4 * p - (4 * p + 3) / 4);
  EXPECT_EQ(Component(full, 0, "policy gradients"), (4 * p + 3) / 4);
  EXPECT_LT(full.processes[1].total(), grads.processes[1].total());
  EXPECT_LE(full.processes[0].total(), grads.processes[0].total());
  c.model.device = "cpu";
  EXPECT_EQ(Component(PlanMemory(c, m, 4, 0), 0, "weight publication"), 2 * 4 * p);
  EXPECT_EQ(grads.processes[1].processes, 3);
}

TEST(MemoryPlan, ReferenceCheckpointingAndActors) {
  Config c = ThreeB();
  const ModelConfig m = PresetConfig("qwen2.5-3b");
  c.learner.kl_coef = 0.01;
  c.learner.reference_dtype = ReferenceDtype::kBFloat16;
  EXPECT_EQ(Component(PlanMemory(c, m, 2, 0), 0, "reference policy"), 2 * m.NumParameters());
  c.learner.reference_device = ReferenceDevice::kCpu;  // off the GPU
  EXPECT_EQ(Component(PlanMemory(c, m, 2, 0), 0, "reference (host memory)"), 0);

  const int64_t plain = Component(PlanMemory(c, m, 2, 0), 0, "activations");
  c.learner.activation_checkpointing = true;
  const int64_t ckpt = Component(PlanMemory(c, m, 2, 0), 0, "activations");
  EXPECT_LT(ckpt * 5, plain);
  c.learner.micro_batch_tokens = 2048;
  EXPECT_LT(Component(PlanMemory(c, m, 2, 0), 0, "activations"), ckpt);

  // The actor: its KV cache is slots x max_seq_len x layers x (k, v) x kv width.
  c.actor.slots = 8;
  const MemoryPlan plan = PlanMemory(c, m, 2, 0);
  const ProcessMemory& actor = plan.processes.back();
  EXPECT_EQ(actor.role, "actor");
  int64_t kv = -1;
  for (const auto& comp : actor.components)
    if (comp.name == "KV cache") kv = comp.bytes;
  EXPECT_EQ(kv, 8LL * 2048 * m.num_hidden_layers * 2 * m.num_key_value_heads * m.HeadDim() * 4);
}

TEST(MemoryPlan, PeakIsResidentPlusTheLargerOfStepAndEvaluation) {
  Config c = ThreeB();
  c.data.test = {"test.jsonl"};  // rank 0 evaluates: its KV cache exists between steps only
  const ModelConfig m = PresetConfig("qwen2.5-3b");
  const MemoryPlan plan = PlanMemory(c, m, 2, 0);
  const ProcessMemory& lead = plan.processes[0];
  const int64_t kv = Component(plan, 0, "evaluation KV cache");
  const int64_t acts = Component(plan, 0, "activations");
  ASSERT_GT(kv, 0);
  EXPECT_EQ(lead.Bytes(MemoryPhase::kEvaluation), kv);
  EXPECT_EQ(lead.Bytes(MemoryPhase::kTraining), acts + Component(plan, 0, "log-prob chunk") +
                                                    Component(plan, 0, "head/embedding gradients"));
  EXPECT_EQ(lead.total(),
            lead.Bytes(MemoryPhase::kResident) + std::max(kv, lead.Bytes(MemoryPhase::kTraining)));
  EXPECT_EQ(Component(plan, 1, "evaluation KV cache"), -1);  // only rank 0 evaluates
}

TEST(MemoryPlan, AdviceIsTheSmallestChangeAndItFits) {
  Config c = ThreeB();
  const ModelConfig m = PresetConfig("qwen2.5-3b");
  const MemoryPlan plan = PlanMemory(c, m, 1, 80LL << 30);
  ASSERT_FALSE(plan.fits);  // ~99 GB of PPO model state on one rank
  ASSERT_FALSE(plan.advice.empty());
  // Apply the advice and plan again: it fits.
  Config fixed = c;
  for (const auto& o : plan.advice_overrides) {
    if (o == "learner.sharding=gradients")
      fixed.learner.sharding = Sharding::kGradients;
    else if (o == "learner.sharding=optimizer")
      fixed.learner.sharding = Sharding::kOptimizer;
    else if (o == "learner.sharding=full")
      fixed.learner.sharding = Sharding::kFull;
    else if (o == "learner.activation_checkpointing=true")
      fixed.learner.activation_checkpointing = true;
    else if (o.rfind("learner.micro_batch_tokens=", 0) == 0)
      fixed.learner.micro_batch_tokens = std::stoi(o.substr(o.find('=') + 1));
    else
      FAIL() << "unexpected override " << o;
  }
  const int ranks = plan.advice_learners > 0 ? plan.advice_learners : 1;
  EXPECT_TRUE(PlanMemory(fixed, m, ranks, 80LL << 30).fits) << plan.advice;
  // Nothing simpler fits: no single change does (each sharding level, checkpointing, each
  // micro-batch halving, each rank doubling alone).
  for (Sharding l : {Sharding::kOptimizer, Sharding::kGradients, Sharding::kFull}) {
    Config x = c;
    x.learner.sharding = l;
    EXPECT_FALSE(PlanMemory(x, m, 1, 80LL << 30).fits);
  }
  Config ckpt = c;
  ckpt.learner.activation_checkpointing = true;
  EXPECT_FALSE(PlanMemory(ckpt, m, 1, 80LL << 30).fits);
  for (int t = 2048; t >= 512; t /= 2) {
    Config x = c;
    x.learner.micro_batch_tokens = t;
    EXPECT_FALSE(PlanMemory(x, m, 1, 80LL << 30).fits) << t;
  }
  for (int r = 2; r <= 1024; r *= 2) EXPECT_FALSE(PlanMemory(c, m, r, 80LL << 30).fits) << r;
  // A device too small for anything gets no advice, and says so.
  const MemoryPlan hopeless = PlanMemory(c, m, 1, 1LL << 30);
  EXPECT_FALSE(hopeless.fits);
  EXPECT_TRUE(hopeless.advice.empty());
  EXPECT_NE(FormatPlan(hopeless).find("no change"), std::string::npos);
}

TEST(MemoryPlan, AMicroBatchHoldsAtLeastOneWholeSequence) {
  Config c = ThreeB();
  const ModelConfig m = PresetConfig("qwen2.5-3b");
  c.actor.max_seq_len = 6144;
  c.learner.micro_batch_tokens = 4096;  // shorter than a sequence: one sequence is the minimum
  const int64_t short_mb = Component(PlanMemory(c, m, 2, 0), 0, "activations");
  c.learner.micro_batch_tokens = 6144;
  EXPECT_EQ(short_mb, Component(PlanMemory(c, m, 2, 0), 0, "activations"));
  // So the advice never halves the micro-batch below a sequence.
  const MemoryPlan plan = PlanMemory(c, m, 1, 80LL << 30);
  ASSERT_FALSE(plan.fits);
  for (const auto& o : plan.advice_overrides)
    EXPECT_EQ(o.find("micro_batch_tokens"), std::string::npos) << o;
}

TEST(MemoryPlan, OnCpuAllProcessesShareTheHost) {
  Config c;
  c.model.preset = "small";
  c.train.actors = 2;
  const ModelConfig m = PresetConfig("small", 272);
  const MemoryPlan plan = PlanMemory(c, m, 2, 64LL << 30);
  ASSERT_TRUE(plan.on_cpu);
  int64_t sum = 0;
  for (const auto& p : plan.processes) sum += p.total() * p.processes;
  EXPECT_EQ(plan.needed(), sum);
  EXPECT_GT(plan.needed(), plan.largest());
  // A host that holds the largest process but not all of them does not fit.
  EXPECT_FALSE(PlanMemory(c, m, 2, plan.largest() + 1).fits);
  EXPECT_TRUE(PlanMemory(c, m, 2, sum).fits);
}

TEST(MemoryPlan, AdviceBeyondAThousandRanks) {
  Config c = ThreeB();
  c.learner.sharding = Sharding::kGradients;
  const ModelConfig m = PresetConfig("qwen2.5-3b");
  const MemoryPlan plan = PlanMemory(c, m, 2048, 80LL << 30);
  ASSERT_FALSE(plan.fits);  // activations without checkpointing
  EXPECT_EQ(plan.advice_overrides,
            std::vector<std::string>{"learner.activation_checkpointing=true"})
      << plan.advice;
}

TEST(MemoryPlan, PlannedModelReadsTheCheckpointsConfigAndNamesAMissingOne) {
  Config c;
  c.model.path = "/nonexistent/model";
  try {
    PlannedModel(c);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model/config.json"), std::string::npos);
  }
  c.model.path = "";
  c.model.preset = "small";
  EXPECT_EQ(PlannedModel(c).hidden_size, 256);
}

}  // namespace
}  // namespace iranker
