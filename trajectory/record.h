// trajectory/record.h — the trajectory records: what an actor streams, a learner trains on and the
// HDF5 log keeps.
//
// Each record lists its fields once, in its static Visit: name, member, documentation and, for a
// variable-length field (a string or an array), the name of the end-offset column the HDF5 log
// stores beside its flat data. Everything that handles records goes through that one list:
//   * the wire codec (trajectory/codec.h): the fields in Visit order;
//   * equality (operator==) and the payload size;
//   * the HDF5 columns (trajlog/): one per field, plus the end-offset columns;
//   * the schema documented in docs/TRAJLOG.md and used by tools/trajlog_to_numpy.py
//     (trajectory/schema.h renders both; a test checks that they are current).
// Adding a field is its member plus one line in Visit, and a bump of kTrajectoryFormatVersion.
//
// A visitor V provides
//   template <class R, class T> void Field(const char* name, T R::*member, const char* doc,
//                                          const char* ends = nullptr);
// T is one of uint64_t, int32_t, float, bool (scalars; `ends` null), std::string,
// std::vector<int32_t> or std::vector<float> (variable-length; `ends` names the end-offset column,
// and a field naming an earlier field's column has that field's length in every row).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace iranker {

// The version of the record layout, on the wire (trajectory/codec.h) and in the HDF5 log
// (its schema_version attribute). Bump it whenever Visit changes.
constexpr uint32_t kTrajectoryFormatVersion = 2;

// One elimination step of one episode: the prompt the policy saw, the response it sampled with
// the behaviour log-probabilities, and the reward it earned.
struct StepRecord {
  uint64_t episode_id = 0;
  int32_t step = 0;
  int32_t pool_size = 0;
  std::string query_id, dataset;
  int32_t actor_id = 0;
  uint64_t policy_version = 0;
  uint64_t seed = 0;
  uint64_t group_id = 0;
  std::vector<int32_t> prompt_ids, response_ids;
  std::vector<float> logprobs;
  // Teacher-forced constrained steps (supervised fine-tuning, actor.responses): the other answers
  // the constrained decoder allowed, each as its token count followed by its token ids; empty
  // otherwise. learner.sft_loss=choice trains the target against them.
  std::vector<int32_t> alternatives;
  float reward = 0;
  float reward_answer = 0, reward_format = 0, reward_tags = 0;
  std::string answer_text;
  int32_t chosen = -1;
  bool valid_format = false;
  bool episode_done = false;

  template <class V>
  static void Visit(V& v) {
    using R = StepRecord;
    v.Field("episode_id", &R::episode_id, "actor id << 40 | the actor's episode counter");
    v.Field("step", &R::step, "step index within the episode (0-based)");
    v.Field("pool_size", &R::pool_size, "candidates shown at this step");
    v.Field("query_id", &R::query_id, "the query's id", "query_end");
    v.Field("dataset", &R::dataset, "the query's dataset (task)", "dataset_end");
    v.Field("actor_id", &R::actor_id, "the actor that generated it");
    v.Field("policy_version", &R::policy_version,
            "optimizer steps behind the weights that generated it");
    v.Field("seed", &R::seed, "the sampling seed of this step (replay)");
    v.Field("group_id", &R::group_id, "samples sharing query and state (GRPO group)");
    v.Field("prompt_ids", &R::prompt_ids, "prompt token ids", "prompt_end");
    v.Field("response_ids", &R::response_ids, "response token ids", "response_end");
    v.Field("logprobs", &R::logprobs, "behaviour log-probabilities, one per response token",
            "response_end");
    v.Field("alternatives", &R::alternatives,
            "SFT of constrained answers: the other allowed answers, each as its length then its "
            "token ids (empty otherwise)",
            "alternatives_end");
    v.Field("reward", &R::reward, "total reward (the sum of the three terms)");
    v.Field("reward_answer", &R::reward_answer,
            "reward term: correctness of the answer (IRanker) or nDCG + coverage (DRanker)");
    v.Field("reward_format", &R::reward_format, "reward term: the think/answer layout");
    v.Field("reward_tags", &R::reward_tags, "reward term: tags not present exactly once");
    v.Field("answer_text", &R::answer_text, "the decoded response (UTF-8)", "answer_end");
    v.Field("chosen", &R::chosen, "candidate index removed (-1: none, DRanker)");
    v.Field("valid_format", &R::valid_format, "the response had the required format");
    v.Field("episode_done", &R::episode_done, "the episode ended with this step");
  }
};

// One finished episode: the final ranking and its metrics.
struct EpisodeSummary {
  uint64_t episode_id = 0;
  std::string query_id, dataset;
  int32_t actor_id = 0;
  uint64_t policy_version = 0;
  std::vector<int32_t> ranking;
  float mrr = 0, ndcg10 = 0, hit1 = 0;
  int32_t num_steps = 0, fallbacks = 0;

  template <class V>
  static void Visit(V& v) {
    using R = EpisodeSummary;
    v.Field("episode_id", &R::episode_id, "actor id << 40 | the actor's episode counter");
    v.Field("query_id", &R::query_id, "the query's id", "query_end");
    v.Field("dataset", &R::dataset, "the query's dataset (task)", "dataset_end");
    v.Field("actor_id", &R::actor_id, "the actor that generated it");
    v.Field("policy_version", &R::policy_version,
            "optimizer steps behind the weights that generated it");
    v.Field("ranking", &R::ranking, "the final ranking: candidate indices, best first",
            "ranking_end");
    v.Field("mrr", &R::mrr, "reciprocal rank of the first relevant candidate");
    v.Field("ndcg10", &R::ndcg10, "nDCG@10 of the ranking (graded)");
    v.Field("hit1", &R::hit1, "1 when the first candidate is relevant");
    v.Field("num_steps", &R::num_steps, "policy decisions the episode took");
    v.Field("fallbacks", &R::fallbacks, "steps whose answer needed a fallback match");
  }
};

// The unit an actor streams to a learner. (actor_id, actor_incarnation, batch_seq) identifies a
// batch uniquely: the stream uses it to de-duplicate resent batches.
struct TrajectoryBatch {
  int32_t actor_id = 0;
  uint64_t actor_incarnation = 0;
  uint64_t batch_seq = 0;
  std::vector<StepRecord> steps;
  std::vector<EpisodeSummary> episodes;
};

bool operator==(const StepRecord& a, const StepRecord& b);
bool operator==(const EpisodeSummary& a, const EpisodeSummary& b);
bool operator==(const TrajectoryBatch& a, const TrajectoryBatch& b);

// Bytes of the variable-length fields (token ids, log-probabilities, strings) the batch carries,
// for throughput figures and buffer reservations.
size_t TrajectoryPayloadBytes(const TrajectoryBatch& batch);

}  // namespace iranker
