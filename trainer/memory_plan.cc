#include "trainer/memory_plan.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "base/atomic_file.h"
#include "base/error.h"
#include "model/policy.h"

namespace iranker {
namespace {

// Resident size of an `iranker train` learner or actor process on CPU apart from its model: the
// code, libtorch's and OpenBLAS's static state and thread pools, OpenMPI, ZeroMQ, HDF5, the
// tokenizer and the data. Measured with the tiny preset (whose model, activations and caches are a
// few MB) as a learner rank's peak RSS minus the plan's other components.
constexpr int64_t kCpuRuntimeBytes = 185LL << 20;
// Rank 0's own: the run book and metrics, the supervision of actor processes; and during an
// evaluation its test data, baselines and rollout runner beside the KV cache (measured the same
// way, from rank 0's peak with the evaluation's KV cache large and small).
constexpr int64_t kCpuLeadBytes = 10LL << 20;
constexpr int64_t kCpuEvaluationBytes = 30LL << 20;
// A CUDA context with cuBLAS/NCCL workspaces: an estimate (never measured; no GPU was lent).
constexpr int64_t kCudaRuntimeBytes = 1LL << 30;

int64_t DtypeBytes(const std::string& dtype) { return dtype == "bfloat16" ? 2 : 4; }

std::string Num(double v) {
  std::ostringstream s;
  s.precision(3);
  s << v;
  return s.str();
}

// A parameter count: "3.09B", "494M", "210k".
std::string Count(int64_t n) {
  if (n >= 1000000000) return Num(n / 1e9) + "B";
  if (n >= 1000000) return Num(n / 1e6) + "M";
  return Num(n / 1e3) + "k";
}

// Bytes autograd keeps for one layer and one token of a training forward (model/decoder.cc
// LayerForward), attention over sequences of `seq` tokens: the layer's input and the post-
// attention residual, each RMSNorm's scaled input and output, q and its rotary half and the
// grouped copy the score product reads, the attention context, k with its rotary half and the
// rotated keys, v (10 x hidden + 4 x kv width); the MLP's gate, up, silu(gate) and product
// (4 x intermediate); the fp32 softmax output over `seq` keys per head (and its cast copy when
// the products run in bf16).
int64_t LayerBytesPerToken(const ModelConfig& m, int64_t seq, int64_t act_bytes) {
  const int64_t kv = m.num_key_value_heads * m.HeadDim();
  const int64_t widths = 10 * m.hidden_size + 4 * kv + 4 * m.intermediate_size;
  const int64_t probs = m.num_attention_heads * seq * (4 + (act_bytes == 4 ? 0 : act_bytes));
  return widths * act_bytes + probs;
}

// A rollout engine's KV cache (model/decoder.h KVCache): keys and values of every layer for
// actor.slots sequences of actor.max_seq_len tokens, in the parameters' dtype.
int64_t KvCacheBytes(const Config& c, const ModelConfig& m) {
  return c.actor.slots * int64_t{c.actor.max_seq_len} * m.num_hidden_layers * 2 *
         m.num_key_value_heads * m.HeadDim() * DtypeBytes(c.model.dtype);
}

struct LearnerShape {
  int ranks = 1;
  Sharding sharding = Sharding::kNone;
  bool checkpointing = false;
  int64_t micro_batch_tokens = 0;
  bool reference_on_cpu = false;
};

ProcessMemory LearnerProcess(const Config& c, const ModelConfig& m, const LearnerShape& s,
                             bool lead, bool cuda) {
  ProcessMemory p;
  p.role = lead           ? "learner rank 0"
           : s.ranks == 2 ? "learner rank 1"
                          : "learner ranks 1.." + std::to_string(s.ranks - 1);
  p.processes = lead ? 1 : s.ranks - 1;
  const int64_t wb = DtypeBytes(c.model.dtype);
  const int64_t params = m.NumParameters();
  const int64_t n = s.ranks;
  const bool ppo = c.learner.algorithm == Algorithm::kPpo;
  const int64_t unit = static_cast<int64_t>(c.learner.shard_unit_mb * 1e6);
  auto add = [&](const std::string& name, int64_t bytes, const std::string& detail,
                 MemoryPhase phase = MemoryPhase::kResident) {
    p.components.push_back({name, bytes, detail, phase});
  };
  const auto kTrain = MemoryPhase::kTraining;
  add("runtime", cuda ? kCudaRuntimeBytes : kCpuRuntimeBytes + (lead ? kCpuLeadBytes : 0),
      cuda ? "CUDA context and library workspaces (estimate)"
           : std::string("libtorch, OpenMPI, ZeroMQ, HDF5, tokenizer, data") +
                 (lead ? ", run book, supervision" : "") + " (measured)");
  const bool full = s.sharding == Sharding::kFull && n > 1;
  // One trained model (policy, or the critic's trunk and value head) under the sharding level.
  auto trained = [&](const std::string& who, int64_t count) {
    const int64_t weights = count * wb;
    if (full) {
      // A slice stays; whole parts exist while gathered: in the policy's backward its output
      // head (the tied embedding until the end), the layer computing and the next one
      // prefetched. The critic's trunk gathers less (no head) and not at the same time.
      const int64_t slice = (weights + n - 1) / n;
      add(who + " weights", slice,
          Count(count) + " parameters x " + std::to_string(wb) + " B, 1/" + std::to_string(n));
      if (who == "policy") {
        const int64_t layer = m.LayerParameters() * wb;
        const int64_t head = m.vocab_size * m.hidden_size * wb;
        add(who + " gathered parts", std::min(weights, head + 2 * layer),
            "output head + 2 layers whole (the one computing, the next prefetched)", kTrain);
      }
      // Rank 0 holds the whole parameters between steps (publication, evaluation, checkpoints);
      // every rank loads them whole at start-up, before the first step shards them.
      add(who + (lead ? " whole between steps" : " whole at start-up"), weights - slice,
          lead ? (who == "policy" ? "publication, evaluation, checkpoints read the whole model"
                                  : "a checkpoint reads the whole critic")
               : "loaded whole, sliced at the first step",
          lead ? MemoryPhase::kEvaluation : MemoryPhase::kStartup);
    } else {
      add(who + " weights", weights, Count(count) + " parameters x " + std::to_string(wb) + " B");
    }
    if ((s.sharding == Sharding::kGradients || full) && n > 1) {
      // The summed slice stays; full gradients exist only for the units whose reduce-scatter
      // has not finished.
      const int64_t slice = (weights + n - 1) / n;
      add(who + " gradients", slice, "1/" + std::to_string(n) + " slice");
      // Up to 3 units out at once (the next start waits while more than 2 are), each a send
      // buffer and this rank's receive slice; a parameter larger than a unit is a unit alone.
      // The critic's backward runs after the policy's: one model's units are in flight at once.
      if (who == "policy") {
        const int64_t largest = std::max(m.vocab_size, m.intermediate_size) * m.hidden_size * wb;
        const int64_t one = std::max(unit, largest);
        add(who + " gradients in flight", std::min(weights - slice, 3 * (one + one / n)),
            "3 units (learner.shard_unit_mb, or the largest parameter) in flight", kTrain);
      }
    } else {
      add(who + " gradients", weights, "full gradients");
    }
    // AdamW's two moments take the parameters' dtype.
    const int64_t moments = 2 * count * wb;
    const bool sharded = s.sharding != Sharding::kNone && n > 1;
    const std::string md = "2 x " + std::to_string(wb) + " B";
    add(who + " AdamW moments", sharded ? (moments + n - 1) / n : moments,
        sharded ? md + ", 1/" + std::to_string(n) : md);
  };
  trained("policy", params);
  if (ppo) trained("critic", params + m.hidden_size + 1);
  if (c.learner.kl_coef > 0) {
    const int64_t rb = c.learner.reference_dtype == ReferenceDtype::kSame      ? wb
                       : c.learner.reference_dtype == ReferenceDtype::kFloat32 ? 4
                                                                               : 2;
    if (s.reference_on_cpu && cuda)
      add("reference (host memory)", 0,
          Num(params * rb / 1e9) + " GB in host memory (learner.reference_device: cpu)");
    else
      add("reference policy", params * rb, "kl_coef > 0: frozen copy");
  }
  // Activations of one micro-batch.
  const int64_t act_bytes =
      (c.learner.autocast == Autocast::kBf16 || c.model.dtype == "bfloat16") ? 2 : 4;
  // A micro-batch holds at least one sequence, however long: up to actor.max_seq_len tokens.
  const int64_t tokens = std::max<int64_t>(s.micro_batch_tokens, c.actor.max_seq_len);
  const int64_t seq = std::min<int64_t>(tokens, c.actor.max_seq_len);
  const int64_t per_layer = LayerBytesPerToken(m, seq, act_bytes) * tokens;
  const int64_t layers = m.num_hidden_layers;
  int64_t acts;
  std::string ad = std::to_string(tokens) + " tokens, sequences of " + std::to_string(seq);
  // Under learner.sharding=full every layer is recomputed in backward, as with checkpointing.
  if (s.checkpointing || full) {
    acts = layers * tokens * m.hidden_size * act_bytes + 2 * per_layer;
    ad += "; checkpointing: layer inputs + one layer recomputed + its backward";
  } else {
    acts = layers * per_layer + per_layer;
    ad += "; " + std::to_string(layers) + " layers + one layer's backward";
  }
  add("activations", acts, ad, kTrain);
  const int64_t chunk = std::min<int64_t>(c.learner.logprob_chunk_tokens, tokens);
  // Backward's gradient of the output head and of the embedding ([vocabulary x hidden] each,
  // summed into or accumulated onto the parameters' gradient): the largest temporaries of a step.
  add("head/embedding gradients", 2 * m.vocab_size * m.hidden_size * wb,
      "output head and embedding gradients before accumulation, 2 x vocabulary x hidden", kTrain);
  add("log-prob chunk", 3 * chunk * m.vocab_size * 4,
      std::to_string(chunk) + " tokens x " + std::to_string(m.vocab_size) +
          " vocabulary x fp32 x 3 (logits, log-softmax, gradient)",
      kTrain);
  // The published copies are host memory (ZeroMQ sends from them): on a GPU not device memory.
  // Two: the current version's blob and the previous one's, kept for reuse (comm/weight_blob.h).
  if (lead)
    add("weight publication", cuda ? 0 : 2 * params * wb,
        cuda ? Num(2 * params * wb / 1e9) + " GB of host memory: the versions the actors receive"
             : "2 copies of the policy weights: the current version and a recycled one");
  if (lead && !c.data.test.empty()) {
    add("evaluation KV cache", KvCacheBytes(c, m),
        std::to_string(c.actor.slots) + " slots x " + std::to_string(c.actor.max_seq_len) +
            " tokens (data.test is set)",
        MemoryPhase::kEvaluation);
    if (!cuda)
      add("evaluation working set", kCpuEvaluationBytes,
          "test data, baselines, rollout runner (measured)", MemoryPhase::kEvaluation);
  }
  return p;
}

ProcessMemory ActorProcess(const Config& c, const ModelConfig& m, bool cuda) {
  ProcessMemory p;
  p.role = "actor";
  p.processes = c.train.actors;
  const int64_t wb = DtypeBytes(c.model.dtype);
  const int64_t params = m.NumParameters();
  p.components.push_back({"runtime", cuda ? kCudaRuntimeBytes : kCpuRuntimeBytes,
                          cuda ? "CUDA context (estimate)" : "measured, tiny preset"});
  p.components.push_back({"policy weights", params * wb, Count(params) + " parameters"});
  p.components.push_back({"weight update", cuda ? 0 : 2 * params * wb,
                          cuda ? Num(2 * params * wb / 1e9) + " GB of host memory: new versions"
                               : "the blob a new version arrives in, and a recycled one"});
  p.components.push_back({"KV cache", KvCacheBytes(c, m),
                          std::to_string(c.actor.slots) + " slots x " +
                              std::to_string(c.actor.max_seq_len) + " tokens"});
  p.components.push_back({"sampling logits", 2 * c.actor.slots * m.vocab_size * 4,
                          std::to_string(c.actor.slots) + " slots x vocabulary x fp32 x 2"});
  return p;
}

std::vector<ProcessMemory> Processes(const Config& c, const ModelConfig& m, const LearnerShape& s) {
  const bool cuda = c.model.device == "cuda";
  std::vector<ProcessMemory> out = {LearnerProcess(c, m, s, true, cuda)};
  if (s.ranks > 1) out.push_back(LearnerProcess(c, m, s, false, cuda));
  out.push_back(ActorProcess(c, m, cuda));
  return out;
}

int64_t Largest(const std::vector<ProcessMemory>& ps) {
  int64_t most = 0;
  for (const auto& p : ps) most = std::max(most, p.total());
  return most;
}

int64_t Sum(const std::vector<ProcessMemory>& ps) {
  int64_t all = 0;
  for (const auto& p : ps) all += p.total() * p.processes;
  return all;
}

bool Cpu(const Config& c) { return c.model.device != "cuda"; }

// What must fit one device: on a GPU the largest process (one process per GPU); on CPU every
// process of the run together (they share the host's memory).
int64_t Need(const Config& c, const std::vector<ProcessMemory>& ps) {
  return Cpu(c) ? Sum(ps) : Largest(ps);
}

LearnerShape ShapeOf(const Config& c, int learners) {
  LearnerShape s;
  s.ranks = learners;
  s.sharding = c.learner.sharding;
  s.checkpointing = c.learner.activation_checkpointing;
  s.micro_batch_tokens = c.learner.micro_batch_tokens;
  s.reference_on_cpu = c.learner.reference_device == ReferenceDevice::kCpu;
  return s;
}

// The change of fewest steps that fits: each candidate applies some of (sharding level up,
// activation checkpointing, reference on the CPU: one step each; the micro-batch halved down to
// 512 tokens, the ranks doubled up to 1024: one step per halving or doubling), cheapest first,
// then fewer ranks, then larger micro-batches.
void Advise(const Config& c, const ModelConfig& m, MemoryPlan* plan) {
  const LearnerShape base = ShapeOf(c, plan->learners);
  struct Candidate {
    LearnerShape s;
    int changes;
  };
  std::vector<Candidate> candidates;
  std::vector<Sharding> levels = {base.sharding};
  for (Sharding l : {Sharding::kOptimizer, Sharding::kGradients, Sharding::kFull})
    if (l > base.sharding) levels.push_back(l);
  std::vector<bool> ckpt = {base.checkpointing};
  if (!base.checkpointing) ckpt.push_back(true);
  std::vector<int64_t> mbts = {base.micro_batch_tokens};
  // Halving below actor.max_seq_len changes nothing: one sequence is a micro-batch's minimum.
  const int64_t floor = std::max<int64_t>(512, c.actor.max_seq_len);
  for (int64_t t = base.micro_batch_tokens / 2; t >= floor; t /= 2) mbts.push_back(t);
  std::vector<bool> refcpu = {base.reference_on_cpu};
  if (!base.reference_on_cpu && c.learner.kl_coef > 0 && c.model.device == "cuda")
    refcpu.push_back(true);
  std::vector<int> ranks;
  ranks.push_back(base.ranks);
  for (int r = base.ranks * 2; r <= std::max(1024, base.ranks); r *= 2) ranks.push_back(r);
  for (Sharding l : levels)
    for (bool k : ckpt)
      for (int64_t t : mbts)
        for (bool rc : refcpu)
          for (int r : ranks) {
            Candidate cand{{r, l, k, t, rc}, 0};
            // Each doubling of the ranks and each halving of the micro-batch is one step.
            int steps =
                (l != base.sharding) + (k != base.checkpointing) + (rc != base.reference_on_cpu);
            for (int64_t x = t; x < base.micro_batch_tokens; x *= 2) ++steps;
            for (int x = base.ranks; x < r; x *= 2) ++steps;
            cand.changes = steps;
            if (cand.changes > 0) candidates.push_back(cand);
          }
  std::stable_sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    if (a.changes != b.changes) return a.changes < b.changes;
    if (a.s.ranks != b.s.ranks) return a.s.ranks < b.s.ranks;
    return a.s.micro_batch_tokens > b.s.micro_batch_tokens;
  });
  for (const Candidate& cand : candidates) {
    if (Need(c, Processes(c, m, cand.s)) > plan->device_bytes) continue;
    std::vector<std::string> words;
    if (cand.s.ranks != base.ranks) {
      words.push_back(std::to_string(cand.s.ranks) + " learner ranks");
      plan->advice_learners = cand.s.ranks;
    }
    if (cand.s.sharding != base.sharding)
      plan->advice_overrides.push_back(std::string("learner.sharding=") + NameOf(cand.s.sharding));
    if (cand.s.checkpointing != base.checkpointing)
      plan->advice_overrides.push_back("learner.activation_checkpointing=true");
    if (cand.s.micro_batch_tokens != base.micro_batch_tokens)
      plan->advice_overrides.push_back("learner.micro_batch_tokens=" +
                                       std::to_string(cand.s.micro_batch_tokens));
    if (cand.s.reference_on_cpu != base.reference_on_cpu)
      plan->advice_overrides.push_back("learner.reference_device=cpu");
    for (const auto& o : plan->advice_overrides) words.push_back(o);
    std::string a;
    for (const auto& w : words) a += (a.empty() ? "" : ", ") + w;
    plan->advice = a + " (" + (Cpu(c) ? "all processes " : "largest process ") +
                   FormatBytes(Need(c, Processes(c, m, cand.s))) + ")";
    return;
  }
}

}  // namespace

int64_t ProcessMemory::Bytes(MemoryPhase phase) const {
  int64_t t = 0;
  for (const auto& c : components)
    if (c.phase == phase) t += c.bytes;
  return t;
}

int64_t ProcessMemory::total() const {
  return Bytes(MemoryPhase::kResident) +
         std::max({Bytes(MemoryPhase::kTraining), Bytes(MemoryPhase::kEvaluation),
                   Bytes(MemoryPhase::kStartup)});
}

int64_t MemoryPlan::largest() const { return Largest(processes); }

int64_t MemoryPlan::needed() const { return on_cpu ? Sum(processes) : Largest(processes); }

ModelConfig PlannedModel(const Config& config) {
  namespace fs = std::filesystem;
  if (!config.model.path.empty()) {
    const std::string file = config.model.path + "/config.json";
    if (!fs::exists(file))
      Fail(ErrorCode::kNotFound, "model.path: ", file,
           " does not exist (to plan without the checkpoint, name its shapes' preset instead: "
           "model.path= model.preset=qwen2.5-3b)");
    return ModelConfig::FromJson(ReadFile(file), file);
  }
  return PresetForTokenizer(config.model.preset, config.model.tokenizer, nullptr);
}

MemoryPlan PlanMemory(const Config& config, const ModelConfig& model, int learners,
                      int64_t device_bytes) {
  if (learners < 1) Fail(ErrorCode::kInvalidArgument, "--learners must be at least 1");
  MemoryPlan plan;
  plan.model = model;
  plan.learners = learners;
  plan.actors = config.train.actors;
  plan.device_bytes = device_bytes;
  plan.processes = Processes(config, model, ShapeOf(config, learners));
  plan.on_cpu = Cpu(config);
  plan.fits = device_bytes <= 0 || plan.needed() <= device_bytes;
  if (!plan.fits) Advise(config, model, &plan);
  return plan;
}

int64_t ParseByteSize(const std::string& text, const std::string& what) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  std::string unit = text.substr(used);
  unit.erase(std::remove_if(unit.begin(), unit.end(),
                            [](unsigned char ch) { return std::isspace(ch) != 0; }),
             unit.end());
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  double scale = 0;
  if (unit.empty() || unit == "b")
    scale = 1;
  else if (unit == "kb" || unit == "k")
    scale = 1e3;
  else if (unit == "mb" || unit == "m")
    scale = 1e6;
  else if (unit == "gb" || unit == "g")
    scale = 1e9;
  else if (unit == "tb" || unit == "t")
    scale = 1e12;
  else if (unit == "kib")
    scale = 1024.0;
  else if (unit == "mib")
    scale = 1024.0 * 1024;
  else if (unit == "gib")
    scale = 1024.0 * 1024 * 1024;
  else if (unit == "tib")
    scale = 1024.0 * 1024 * 1024 * 1024;
  const double bytes = v * scale;
  if (used == 0 || scale == 0 || !std::isfinite(bytes) || bytes < 1 || bytes >= 9.2e18)
    Fail(ErrorCode::kInvalidArgument, what, ": '", text,
         "' is not a size of at least one byte (examples: 80GiB, 24GB, 512MiB, 1e9)");
  return static_cast<int64_t>(bytes);
}

std::string FormatBytes(int64_t bytes) {
  const double b = static_cast<double>(bytes);
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(2);
  if (b >= 1024.0 * 1024 * 1024)
    s << b / (1024.0 * 1024 * 1024) << " GiB";
  else if (b >= 1024.0 * 1024)
    s << b / (1024.0 * 1024) << " MiB";
  else if (b >= 1024.0)
    s << b / 1024.0 << " KiB";
  else
    s << bytes << " B";
  return s.str();
}

std::string FormatPlan(const MemoryPlan& plan) {
  std::ostringstream s;
  const ModelConfig& m = plan.model;
  s << "model: " << Count(m.NumParameters()) << " parameters (" << m.num_hidden_layers
    << " layers, hidden " << m.hidden_size << ", vocabulary " << m.vocab_size << "), "
    << plan.learners << " learner rank(s), " << plan.actors << " actor(s)\n";
  for (const auto& p : plan.processes) {
    s << "\n"
      << p.role << (p.processes > 1 ? " (x" + std::to_string(p.processes) + ")" : "") << ":\n";
    for (const auto& c : p.components) {
      std::string name = "  " + c.name +
                         (c.phase == MemoryPhase::kTraining     ? " [step]"
                          : c.phase == MemoryPhase::kEvaluation ? " [eval]"
                          : c.phase == MemoryPhase::kStartup    ? " [start]"
                                                                : "");
      name.resize(std::max<size_t>(name.size() + 1, 34), ' ');
      std::string bytes = FormatBytes(c.bytes);
      bytes.insert(0, bytes.size() < 12 ? 12 - bytes.size() : 0, ' ');
      s << name << bytes << "   " << c.detail << "\n";
    }
    std::string total = FormatBytes(p.total());
    total.insert(0, total.size() < 12 ? 12 - total.size() : 0, ' ');
    bool startup = false;
    for (const auto& c : p.components) startup |= c.phase == MemoryPhase::kStartup;
    s << "  peak                            " << total << "   resident + max([step], [eval]"
      << (startup ? ", [start]" : "") << ")\n";
  }
  s << "\n";
  if (plan.device_bytes > 0) {
    if (plan.on_cpu)
      s << "all processes together " << FormatBytes(plan.needed()) << " of "
        << FormatBytes(plan.device_bytes) << " of host memory: ";
    else
      s << "largest process " << FormatBytes(plan.largest()) << " of "
        << FormatBytes(plan.device_bytes) << " per device: ";
    s << (plan.fits ? "fits" : "does not fit") << "\n";
    if (!plan.fits)
      s << (plan.advice.empty()
                ? std::string("no change of sharding, checkpointing, micro-batch, reference "
                              "device or rank count (up to 1024) fits")
                : "smallest change that fits: " + plan.advice)
        << "\n";
  }
  return s.str();
}

}  // namespace iranker
