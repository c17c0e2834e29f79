#include "model/generate.h"

#include <torch/torch.h>

#include <algorithm>
#include <map>

#include "base/error.h"

namespace iranker {

GenerationEngine::GenerationEngine(DecoderLM& model, const EngineOptions& options)
    : model_(model),
      options_(options),
      cache_(model.config(), options.slots, options.max_seq_len,
             model.parameters().front().scalar_type(), model.parameters().front().device()),
      slots_(options.slots) {}

void GenerationEngine::Submit(GenerationRequest request) {
  if (request.prompt.empty())
    Fail(ErrorCode::kInvalidArgument, "generation request ", request.id, " has an empty prompt");
  if (static_cast<int64_t>(request.prompt.size()) >= options_.max_seq_len)
    Fail(ErrorCode::kInvalidArgument, "generation request ", request.id, ": prompt of ",
         request.prompt.size(), " tokens does not fit max_seq_len ", options_.max_seq_len);
  for (int32_t t : request.prompt)
    if (t < 0 || t >= model_.config().vocab_size)
      Fail(ErrorCode::kInvalidArgument, "generation request ", request.id, ": token id ", t,
           " is outside the vocabulary of ", model_.config().vocab_size);
  if (request.params.constraint && request.params.constraint->Children(TokenTrie::kRoot).empty())
    Fail(ErrorCode::kInvalidArgument, "generation request ", request.id,
         ": the constraint allows nothing");
  waiting_.push_back(std::move(request));
}

void GenerationEngine::InvalidateCache() {
  for (auto& s : slots_) {
    IR_CHECK(!s.active);
    s.tokens.clear();
  }
  std::fill(cache_.length.begin(), cache_.length.end(), 0);
}

std::vector<int32_t> GenerationEngine::AllowedTokens(const Slot& slot) const {
  std::vector<int32_t> allowed;
  const auto& trie = *slot.request.params.constraint;
  for (const auto& [tok, child] : trie.Children(slot.trie_node)) allowed.push_back(tok);
  if (trie.IsTerminal(slot.trie_node))
    for (int32_t stop : slot.request.params.stop_ids) allowed.push_back(stop);
  return allowed;
}

bool GenerationEngine::Admit(GenerationRequest& req) {
  const auto& prompt = req.prompt;
  const int64_t n = static_cast<int64_t>(prompt.size());
  // Longest common prefix with any slot's cached tokens (at most n - 1: the last prompt token
  // must be computed to get the next-token logits).
  int64_t best = -1, best_len = 0;
  if (options_.prefix_reuse) {
    for (int64_t s = 0; s < options_.slots; ++s) {
      const auto& toks = slots_[s].tokens;
      int64_t m = std::min<int64_t>(static_cast<int64_t>(toks.size()), n - 1), l = 0;
      while (l < m && toks[l] == prompt[l]) ++l;
      if (l > best_len ||
          (l == best_len && best >= 0 && l > 0 && !slots_[s].active && slots_[best].active))
        best = s, best_len = l;
    }
    if (best_len < options_.min_reuse_tokens) best = -1, best_len = 0;
  }
  // Target slot: the idle source itself, else an empty slot, else the least recently used idle.
  int64_t target = -1;
  if (best >= 0 && !slots_[best].active) target = best;
  if (target < 0)
    for (int64_t s = 0; s < options_.slots; ++s)
      if (!slots_[s].active && slots_[s].tokens.empty()) {
        target = s;
        break;
      }
  if (target < 0) {
    uint64_t oldest = UINT64_MAX;
    for (int64_t s = 0; s < options_.slots; ++s)
      if (!slots_[s].active && s != best && slots_[s].last_used < oldest)
        oldest = slots_[s].last_used, target = s;
  }
  if (target < 0) return false;
  Slot& slot = slots_[target];
  if (best >= 0) {
    cache_.CopyPrefix(best, target, best_len);  // in place when best == target
  } else {
    cache_.length[target] = 0;
    best_len = 0;
  }
  slot.tokens.assign(prompt.begin(), prompt.begin() + best_len);
  slot.active = true;
  slot.last_used = ++clock_;
  slot.trie_node = TokenTrie::kRoot;
  slot.pending = -1;
  slot.result = GenerationResult();
  slot.result.id = req.id;
  slot.result.prompt_tokens = n;
  slot.result.reused_tokens = best_len;
  slot.request = std::move(req);
  ++active_count_;
  ++stats_.requests;
  stats_.reused_tokens += best_len;
  stats_.prefill_tokens += n - best_len;

  torch::NoGradGuard no_grad;
  const auto& p = slot.request.prompt;
  auto ids =
      torch::from_blob(const_cast<int32_t*>(p.data()) + best_len, {n - best_len}, torch::kInt32)
          .to(torch::kInt64)
          .to(cache_.k[0].device());
  auto hidden = model_.Prefill(cache_, target, ids);
  slot.tokens.insert(slot.tokens.end(), p.begin() + best_len, p.end());
  auto logits = model_.Logits(hidden[-1]).to(torch::kCPU).contiguous();
  SampleInto(target, logits);
  return true;
}

bool GenerationEngine::SampleInto(int64_t s, const at::Tensor& logits) {
  Slot& slot = slots_[s];
  const auto& params = slot.request.params;
  std::vector<int32_t> allowed;
  if (params.constraint) allowed = AllowedTokens(slot);
  auto tok = SampleToken(logits.data_ptr<float>(), logits.size(0), params,
                         slot.result.tokens.size(), params.constraint ? &allowed : nullptr);
  auto& r = slot.result;
  if (slot.request.keep_logits) {
    const float* row = logits.data_ptr<float>();
    r.logits.emplace_back(row, row + logits.size(0));
  }
  r.tokens.push_back(tok.token);
  r.logprobs.push_back(tok.logprob);
  r.sampling_logprobs.push_back(tok.sampling_logprob);
  ++stats_.decode_tokens;
  bool done = false;
  if (std::find(params.stop_ids.begin(), params.stop_ids.end(), tok.token) !=
      params.stop_ids.end()) {
    r.finish = GenerationResult::Finish::kStop;
    done = true;
  } else if (params.constraint) {
    slot.trie_node = params.constraint->Next(slot.trie_node, tok.token);
    IR_CHECK_GE(slot.trie_node, 0);
    if (params.constraint->Children(slot.trie_node).empty()) {
      r.finish = GenerationResult::Finish::kConstraint;
      done = true;
    }
  }
  if (!done && (static_cast<int64_t>(r.tokens.size()) >= params.max_new_tokens ||
                static_cast<int64_t>(slot.tokens.size()) + 1 >= options_.max_seq_len)) {
    r.finish = GenerationResult::Finish::kLength;
    done = true;
  }
  slot.pending = done ? -1 : tok.token;
  return done;
}

std::vector<GenerationResult> GenerationEngine::Step() {
  std::vector<GenerationResult> finished;
  auto retire = [&](int64_t s) {
    Slot& slot = slots_[s];
    slot.active = false;
    slot.last_used = ++clock_;
    --active_count_;
    finished.push_back(std::move(slot.result));
  };
  // Admit as many waiting requests as there are slots; a request finished by its first token
  // (max_new_tokens = 1, an immediate stop) leaves at once.
  while (!waiting_.empty()) {
    if (!Admit(waiting_.front())) break;
    waiting_.pop_front();
    for (int64_t s = 0; s < options_.slots; ++s)
      if (slots_[s].active && slots_[s].pending < 0) retire(s);
  }
  std::vector<int64_t> rows;
  std::vector<int64_t> ids;
  for (int64_t s = 0; s < options_.slots; ++s)
    if (slots_[s].active && slots_[s].pending >= 0)
      rows.push_back(s), ids.push_back(slots_[s].pending);
  if (rows.empty()) return finished;
  torch::NoGradGuard no_grad;
  auto ids_t = torch::from_blob(ids.data(), {static_cast<int64_t>(ids.size())}, torch::kInt64)
                   .clone()
                   .to(cache_.k[0].device());
  auto hidden = model_.Decode(cache_, rows, ids_t);
  auto logits = model_.Logits(hidden).to(torch::kCPU).contiguous();
  ++stats_.decode_steps;
  for (size_t i = 0; i < rows.size(); ++i) {
    Slot& slot = slots_[rows[i]];
    slot.tokens.push_back(slot.pending);
    if (SampleInto(rows[i], logits[i])) retire(rows[i]);
  }
  return finished;
}

std::vector<GenerationResult> GenerationEngine::RunAll() {
  std::vector<uint64_t> order;
  for (const auto& r : waiting_) order.push_back(r.id);
  std::map<uint64_t, GenerationResult> done;
  while (!Idle())
    for (auto& r : Step()) done[r.id] = std::move(r);
  std::vector<GenerationResult> out;
  for (uint64_t id : order) out.push_back(std::move(done[id]));
  return out;
}

}  // namespace iranker
