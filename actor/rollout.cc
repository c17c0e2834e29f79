#include "actor/rollout.h"

#include <torch/torch.h>

#include <chrono>
#include <map>

#include "base/error.h"
#include "ranking/answer.h"
#include "ranking/metrics.h"

namespace iranker {

struct RolloutRunner::Episode {
  const QueryRecord* record = nullptr;
  EpisodeState state;
  uint64_t episode_id = 0;
  uint64_t group_key = 0;  // identifies the query (and state) shared by the group
  uint64_t seed = 0;       // sampling seed base of this episode
  std::vector<int32_t> prompt_ids;
  std::string prefill;  // assistant text before the generation
  std::shared_ptr<TokenTrie> constraint;
  std::vector<int32_t> alternatives;  // teacher-forced constrained step: the other answers
  uint64_t version = 0;
  int step_index = 0;
};

RolloutRunner::RolloutRunner(DecoderLM& policy, const Tokenizer& tokenizer,
                             const PromptSet& prompts, const RewardOptions& rewards,
                             const ActorOptions& options, int32_t actor_id)
    : policy_(policy),
      tokenizer_(tokenizer),
      prompts_(prompts),
      rewards_(rewards),
      options_(options),
      actor_id_(actor_id),
      engine_(policy, [&] {
        EngineOptions e;
        e.slots = options.slots;
        e.max_seq_len = options.max_seq_len;
        e.prefix_reuse = options.prefix_reuse;
        return e;
      }()) {
  for (const char* stop : {"<|im_end|>", "<|endoftext|>"})
    if (auto id = tokenizer_.TokenToId(stop)) stop_ids_.push_back(*id);
  if (options_.responses == Responses::kSampled) return;
  teacher_ = std::make_unique<Teacher>(options_.responses, options_.teacher_run);
  target_template_ = options_.target_template;
  const std::string& prefill = prompts_.options().assistant_prefill;
  if (target_template_.empty()) {
    // The shortest completion of the think/answer layout from where the prefill stops.
    const ParsedResponse p = ParseResponse(prefill);
    if (p.answer_open > 0 && p.answer_close == 0)
      target_template_ = "{answer}</answer>";
    else if (p.think_open > 0 && p.think_close == 0)
      target_template_ = "\n</think>\n<answer>{answer}</answer>";
    else if (p.think_close > 0)
      target_template_ = "\n<answer>{answer}</answer>";
    else
      target_template_ = "<think>\n</think>\n<answer>{answer}</answer>";
  }
  std::string probe = target_template_;
  probe.replace(probe.find("{answer}"), 8, "x");
  if (!ParseResponse(prefill + probe).layout_ok)
    Fail(ErrorCode::kInvalidArgument, "actor.target_template '", target_template_,
         "' after prompt.assistant_prefill does not give the <think></think><answer></answer> "
         "layout");
  if (stop_ids_.empty())
    Fail(ErrorCode::kInvalidArgument,
         "actor.responses: the tokenizer has neither <|im_end|> nor <|endoftext|> to end a target");
}

std::vector<int32_t> RolloutRunner::TargetTokens(const Episode& e,
                                                 const std::vector<std::string>& shown,
                                                 std::vector<int32_t>* alternatives) const {
  auto name = [&](int display) {
    return options_.target_names == "label" ? std::to_string(display + 1) : shown[display];
  };
  const uint64_t seed = e.state.seed;
  if (options_.episode_mode != EpisodeMode::kDRanker && options_.constrained) {
    // Exactly what the constrained decoder may write for that candidate.
    const int t = teacher_->EliminationTarget(*e.record, e.state.pool, seed);
    const auto target = AnswerTokens(t, shown);
    for (int d = 0; d < static_cast<int>(shown.size()); ++d) {
      auto other = AnswerTokens(d, shown);
      if (other == target) continue;  // the target itself, or a candidate with the same text
      alternatives->push_back(static_cast<int32_t>(other.size()));
      alternatives->insert(alternatives->end(), other.begin(), other.end());
    }
    return target;
  }
  std::string answer;
  if (options_.episode_mode == EpisodeMode::kDRanker) {
    for (int d : teacher_->RankingTarget(*e.record, e.state.pool, seed))
      answer += (answer.empty() ? "" : "\n") + name(d);
  } else {
    answer = name(teacher_->EliminationTarget(*e.record, e.state.pool, seed));
  }
  std::string text = target_template_;
  text.replace(text.find("{answer}"), 8, answer);
  auto ids = tokenizer_.Encode(text, /*parse_special=*/false);
  ids.push_back(stop_ids_.front());  // the response ends as a sampled one does
  return ids;
}

std::vector<int32_t> RolloutRunner::AnswerTokens(int display,
                                                 const std::vector<std::string>& shown) const {
  std::string text = options_.answer_template;
  if (auto at = text.find("{label}"); at != std::string::npos)
    text.replace(at, 7, std::to_string(display + 1));
  if (auto at = text.find("{text}"); at != std::string::npos) text.replace(at, 6, shown[display]);
  return tokenizer_.Encode(text, /*parse_special=*/false);
}

void RolloutRunner::SubmitStep(Episode& e, uint64_t request_id, bool greedy) {
  const auto shown = PoolTexts(*e.record, e.state);
  const bool dranker = options_.episode_mode == EpisodeMode::kDRanker;
  const std::string prompt =
      prompts_.Render(*e.record, shown, dranker ? RankMode::kDRanker : RankMode::kIRanker);
  e.prompt_ids = tokenizer_.Encode(prompt, /*parse_special=*/true);
  GenerationRequest r;
  r.id = request_id;
  r.prompt = e.prompt_ids;
  r.params.temperature = static_cast<float>(options_.temperature);
  r.params.top_p = static_cast<float>(options_.top_p);
  r.params.top_k = options_.top_k;
  r.params.max_new_tokens = options_.max_new_tokens;
  r.params.stop_ids = stop_ids_;
  r.params.seed = DeriveSeed(e.seed, e.step_index);
  r.params.greedy = greedy;
  e.alternatives.clear();
  if (forcing_) {
    r.params.constraint = std::make_shared<TokenTrie>(
        std::vector<std::vector<int32_t>>{TargetTokens(e, shown, &e.alternatives)});
    r.params.greedy = true;             // the only allowed token; its log-probability at T = 1
    r.params.max_new_tokens = 1 << 20;  // the target ends the response
  } else if (options_.constrained && !dranker) {
    std::vector<std::vector<int32_t>> allowed;
    for (size_t d = 0; d < shown.size(); ++d) allowed.push_back(AnswerTokens(int(d), shown));
    r.params.constraint = std::make_shared<TokenTrie>(allowed);
    r.params.max_new_tokens = 1 << 20;  // the constraint ends the response
  }
  engine_.Submit(std::move(r));
}

template <class F>
void RolloutRunner::Drive(std::vector<Episode>& episodes, bool greedy, F&& on_result) {
  size_t next = 0, in_flight = 0;
  auto fill = [&] {
    while (in_flight < size_t(options_.slots) && next < episodes.size()) {
      SubmitStep(episodes[next], next, greedy);
      ++next;
      ++in_flight;
    }
  };
  fill();
  while (in_flight > 0) {
    for (auto& res : engine_.Step()) {
      Episode& e = episodes[res.id];
      if (on_result(e, res)) {
        SubmitStep(e, res.id, greedy);  // the next step reuses this episode's cached prefix
      } else {
        --in_flight;
      }
    }
    fill();
  }
}

RolloutStats RolloutRunner::Run(const std::vector<const QueryRecord*>& queries, uint64_t base_seed,
                                uint64_t version, TrajectoryBatch* batch) {
  torch::NoGradGuard no_grad;
  const auto t0 = std::chrono::steady_clock::now();
  RolloutStats stats;
  const auto engine_before = engine_.stats();
  std::vector<Episode> episodes = StartEpisodes(queries, base_seed, version);
  const std::string prefill = prompts_.options().assistant_prefill;
  forcing_ = teacher_ != nullptr;
  Drive(episodes, /*greedy=*/false, [&](Episode& e, const GenerationResult& res) {
    return RecordStep(e, res, prefill, batch, &stats);
  });
  forcing_ = false;
  const auto& es = engine_.stats();
  stats.prompt_tokens = (es.prefill_tokens + es.reused_tokens) -
                        (engine_before.prefill_tokens + engine_before.reused_tokens);
  stats.reused_tokens = es.reused_tokens - engine_before.reused_tokens;
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return stats;
}

// All episodes of the batch, in a fixed order: query, then state, then group member.
std::vector<RolloutRunner::Episode> RolloutRunner::StartEpisodes(
    const std::vector<const QueryRecord*>& queries, uint64_t base_seed, uint64_t version) {
  std::vector<Episode> episodes;
  for (size_t q = 0; q < queries.size(); ++q) {
    const QueryRecord& rec = *queries[q];
    const uint64_t qseed = DeriveSeed(base_seed, q);
    std::vector<EpisodeState> starts;
    if (options_.episode_mode == EpisodeMode::kSingleStep)
      starts = SingleStepStates(rec, qseed);
    else if (options_.episode_mode == EpisodeMode::kDRanker)
      starts.push_back(StartEpisode(rec, qseed, 0));
    else
      starts.push_back(StartEpisode(rec, qseed, options_.step_budget));
    for (size_t s = 0; s < starts.size(); ++s)
      for (int g = 0; g < options_.group_size; ++g) {
        Episode e;
        e.record = &rec;
        e.state = starts[s];
        e.episode_id =
            (uint64_t(uint32_t(actor_id_)) << 40) | (episode_counter_++ & ((1ull << 40) - 1));
        e.group_key = DeriveSeed(qseed, s);
        e.seed = DeriveSeed(DeriveSeed(qseed, s), 1000 + g);
        e.version = version;
        episodes.push_back(std::move(e));
      }
  }
  return episodes;
}

// DRanker: the whole ranking in one answer, scored by nDCG (+ coverage) over the display order.
// *ranking gets the answer's order of the pool, unranked candidates after it in display order.
RewardBreakdown RolloutRunner::ScoreDRanker(Episode& e, const std::string& answer,
                                            std::vector<int>* ranking) const {
  const std::vector<int> pool = e.state.pool;
  const auto texts = PoolTexts(*e.record, e.state);
  std::vector<double> rel;
  for (int c : pool) rel.push_back(e.record->relevance[c]);
  RewardBreakdown rb = DRankerReward(answer, texts, rel, rewards_);
  ParsedResponse parsed = ParseResponse(answer);
  RankingMatch m = MatchRankingLines(parsed.answer, texts, rewards_.match);
  std::vector<bool> used(pool.size(), false);
  for (int d : m.order) {
    ranking->push_back(pool[d]);
    used[d] = true;
  }
  for (size_t d = 0; d < pool.size(); ++d)
    if (!used[d]) ranking->push_back(pool[d]);
  e.state.steps = 1;
  e.state.step_budget = 1;
  return rb;
}

// Scores a finished response, applies it to its episode, and appends its step record (and, when
// the episode ends, its summary) to `batch`. Returns whether the episode needs another step.
bool RolloutRunner::RecordStep(Episode& e, const GenerationResult& res, const std::string& prefill,
                               TrajectoryBatch* batch, RolloutStats* stats) {
  const bool dranker = options_.episode_mode == EpisodeMode::kDRanker;
  const std::string response = tokenizer_.Decode(res.tokens, /*skip_special=*/true);
  const std::vector<int> pool_before = e.state.pool;
  RewardBreakdown rb;
  std::vector<int> dranker_ranking;
  if (dranker)
    rb = ScoreDRanker(e, prefill + response, &dranker_ranking);
  else
    rb = ApplyTrainingResponse(*e.record, &e.state, prefill + response, rewards_);
  StepRecord s;
  s.episode_id = e.episode_id;
  s.step = e.step_index;
  s.pool_size = static_cast<int>(pool_before.size());
  s.query_id = e.record->id;
  s.dataset = e.record->task;
  s.actor_id = actor_id_;
  s.policy_version = e.version;
  s.seed = DeriveSeed(e.seed, e.step_index);
  s.group_id = DeriveSeed(e.group_key, e.step_index);
  s.prompt_ids = e.prompt_ids;
  s.response_ids = res.tokens;
  s.logprobs = res.logprobs;
  s.alternatives = e.alternatives;
  s.reward = static_cast<float>(rb.total);
  s.reward_answer = static_cast<float>(rb.correctness);
  s.reward_format = static_cast<float>(rb.format);
  s.reward_tags = static_cast<float>(rb.tags);
  s.answer_text = response;
  s.chosen = rb.match.index >= 0 ? pool_before[rb.match.index] : -1;
  s.valid_format = rb.format == 0.0;
  s.episode_done = dranker || EpisodeDone(e.state);
  stats->steps++;
  stats->generated_tokens += res.tokens.size();
  ++e.step_index;
  if (s.episode_done) {
    batch->episodes.push_back(Summary(e, dranker ? dranker_ranking : FinalRanking(e.state)));
    stats->episodes++;
  }
  const bool more = !s.episode_done;
  batch->steps.push_back(std::move(s));
  return more;
}

EpisodeSummary RolloutRunner::Summary(const Episode& e, const std::vector<int>& ranking) const {
  EpisodeSummary sum;
  sum.episode_id = e.episode_id;
  sum.query_id = e.record->id;
  sum.dataset = e.record->task;
  sum.actor_id = actor_id_;
  sum.policy_version = e.version;
  sum.ranking.assign(ranking.begin(), ranking.end());
  auto named = MetricsByName(ScoreRanking(ranking, e.record->relevance));
  sum.mrr = static_cast<float>(named["mrr"]);
  sum.ndcg10 = static_cast<float>(named["ndcg@10"]);
  sum.hit1 = static_cast<float>(named["hit@1"]);
  sum.num_steps = e.step_index;
  sum.fallbacks = e.state.fallbacks;
  return sum;
}

}  // namespace iranker

namespace iranker {

std::vector<RolloutRunner::Ranked> RolloutRunner::Rank(
    const std::vector<const QueryRecord*>& queries, uint64_t seed, const MatchOptions& match,
    const std::function<void()>& on_step) {
  torch::NoGradGuard no_grad;
  std::vector<Episode> episodes(queries.size());
  std::vector<Ranked> out(queries.size());
  for (size_t q = 0; q < queries.size(); ++q) {
    episodes[q].record = queries[q];
    episodes[q].state = StartEpisode(*queries[q], DeriveSeed(seed, q), /*step_budget=*/0);
    episodes[q].seed = DeriveSeed(seed, q);
  }
  const std::string prefill = prompts_.options().assistant_prefill;
  Drive(episodes, /*greedy=*/true, [&](Episode& e, const GenerationResult& res) {
    const size_t q = &e - episodes.data();
    if (on_step) on_step();
    const std::string response = tokenizer_.Decode(res.tokens, /*skip_special=*/true);
    out[q].responses.push_back(response);
    ParsedResponse parsed = ParseResponse(prefill + response);
    if (options_.episode_mode == EpisodeMode::kDRanker) {
      // One answer ranks everything; unmatched candidates follow in display order.
      const auto texts = PoolTexts(*e.record, e.state);
      RankingMatch m = MatchRankingLines(parsed.answer, texts, match);
      std::vector<bool> used(texts.size(), false);
      for (int d : m.order) {
        out[q].ranking.push_back(e.state.pool[d]);
        used[d] = true;
      }
      for (size_t d = 0; d < texts.size(); ++d)
        if (!used[d]) {
          out[q].ranking.push_back(e.state.pool[d]);
          ++out[q].fallbacks;
        }
      return false;
    }
    ApplyEvaluationAnswer(*e.record, &e.state, parsed.answer, match);
    ++e.step_index;
    if (!EpisodeDone(e.state)) return true;
    out[q].ranking = FinalRanking(e.state);
    out[q].fallbacks = e.state.fallbacks;
    return false;
  });
  return out;
}

}  // namespace iranker
