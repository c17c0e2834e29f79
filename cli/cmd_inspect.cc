// `iranker inspect FILE.h5|RUN_DIR [--episode ID] [--json]`: what a trajectory log holds.
//
// Summary: rows, episodes, tokens, and reward / format validity by policy version (in up to 10
// ranges) and by dataset. --episode prints one episode's steps decoded to text (the tokenizer is
// taken from the run directory, or --tokenizer). A run directory means all of its logs.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "cli/commands.h"
#include "tokenizer/tokenizer.h"
#include "trajectory/schema.h"
#include "trajlog/trajlog.h"

namespace iranker {
namespace fs = std::filesystem;

namespace {

struct Acc {
  int64_t n = 0;
  double reward = 0, valid = 0;
  void Add(const StepRecord& s) {
    ++n;
    reward += s.reward;
    valid += s.valid_format;
  }
  nlohmann::json Json() const {
    return {{"steps", n}, {"reward_mean", n ? reward / n : 0}, {"valid_format", n ? valid / n : 0}};
  }
};

std::vector<std::string> LogFiles(const std::string& path) {
  if (!fs::is_directory(path)) {
    if (!fs::exists(path)) Fail(ErrorCode::kNotFound, path, ": no such file or run directory");
    return {path};
  }
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(path))
    if (e.path().extension() == ".h5") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  if (files.empty())
    Fail(ErrorCode::kNotFound, path, ": no trajectory log (*.h5) in this directory");
  return files;
}

std::string FindTokenizer(const std::string& path) {
  fs::path dir = fs::is_directory(path) ? fs::path(path) : fs::path(path).parent_path();
  for (const char* sub : {"init", "."}) {
    auto p = dir / sub / "tokenizer.json";
    if (fs::exists(p)) return p.string();
  }
  // The newest checkpoint's copy.
  std::vector<std::string> cps;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir / "checkpoints", ec))
    if (fs::exists(e.path() / "tokenizer.json"))
      cps.push_back((e.path() / "tokenizer.json").string());
  std::sort(cps.begin(), cps.end());
  return cps.empty() ? "" : cps.back();
}

}  // namespace

void AddInspectCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "inspect", "Summarise an HDF5 trajectory log (or every log of a run directory)");
  struct Opts {
    std::string path, tokenizer;
    int64_t episode = -1;
    bool json = false;
    std::string schema;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("path", o->path, "trajectories.h5, or a run directory");
  cmd->add_option("--episode", o->episode, "Print this episode's steps decoded to text");
  cmd->add_option("--tokenizer", o->tokenizer, "tokenizer.json for --episode (default: the run's)");
  cmd->add_flag("--json", o->json, "Machine-readable summary");
  cmd->add_option("--schema", o->schema,
                  "Print the log's columns (as docs/TRAJLOG.md or tools/trajlog_to_numpy.py hold "
                  "them) instead of reading a log")
      ->check(CLI::IsMember({"markdown", "python"}));
  cmd->callback([o] {
    if (!o->schema.empty()) {
      std::cout << (o->schema == "markdown" ? TrajectorySchemaMarkdown()
                                            : TrajectorySchemaPython());
      return;
    }
    if (o->path.empty()) throw CLI::RequiredError("path");
    const auto files = LogFiles(o->path);
    if (o->episode >= 0) {
      std::string tok_path = o->tokenizer.empty() ? FindTokenizer(o->path) : o->tokenizer;
      if (tok_path.empty())
        Fail(ErrorCode::kNotFound, "no tokenizer.json next to ", o->path, "; pass --tokenizer");
      auto tok = Tokenizer::FromFile(tok_path);
      bool found = false;
      for (const auto& f : files) {
        TrajectoryLogReader r(f, /*swmr=*/true);
        auto steps = r.ReadSteps(0, r.num_steps());
        for (const auto& s : steps) {
          if (s.episode_id != static_cast<uint64_t>(o->episode)) continue;
          found = true;
          std::cout << "== " << f << " episode " << s.episode_id << " step " << s.step << " (query "
                    << s.query_id << ", dataset " << s.dataset << ", actor " << s.actor_id
                    << ", policy version " << s.policy_version << ", pool " << s.pool_size << ")\n"
                    << "-- prompt (" << s.prompt_ids.size() << " tokens)\n"
                    << tok->Decode(s.prompt_ids) << "\n-- response (" << s.response_ids.size()
                    << " tokens)\n"
                    << tok->Decode(s.response_ids) << "\n-- answer '" << s.answer_text
                    << "', chosen " << s.chosen << ", reward " << s.reward << " (answer "
                    << s.reward_answer << ", format " << s.reward_format << ", tags "
                    << s.reward_tags << "), valid format " << (s.valid_format ? "yes" : "no")
                    << "\n";
        }
        auto eps = r.ReadEpisodes(0, r.num_episodes());
        for (const auto& e : eps) {
          if (e.episode_id != static_cast<uint64_t>(o->episode)) continue;
          std::cout << "== episode " << e.episode_id << " ranking";
          for (int c : e.ranking) std::cout << " " << c;
          std::cout << " | MRR " << e.mrr << " nDCG@10 " << e.ndcg10 << " Hit@1 " << e.hit1 << "\n";
        }
      }
      if (!found) Fail(ErrorCode::kNotFound, "episode ", o->episode, " is not in ", o->path);
      return;
    }
    nlohmann::json out = {{"files", nlohmann::json::array()}};
    int64_t steps_total = 0, episodes_total = 0, prompt_tokens = 0, response_tokens = 0;
    std::map<std::string, Acc> by_dataset;
    std::map<uint64_t, Acc> by_version;
    for (const auto& f : files) {
      TrajectoryLogReader r(f, /*swmr=*/true);
      const int64_t n = r.num_steps(), ne = r.num_episodes();
      out["files"].push_back({{"path", f},
                              {"steps", n},
                              {"episodes", ne},
                              {"start_step", r.Attribute("start_step")},
                              {"learner_rank", r.Attribute("learner_rank")}});
      steps_total += n;
      episodes_total += ne;
      for (int64_t b = 0; b < n; b += 4096) {
        for (const auto& s : r.ReadSteps(b, std::min(n, b + 4096))) {
          by_dataset[s.dataset].Add(s);
          by_version[s.policy_version].Add(s);
          prompt_tokens += s.prompt_ids.size();
          response_tokens += s.response_ids.size();
        }
      }
    }
    out["steps"] = steps_total;
    out["episodes"] = episodes_total;
    out["prompt_tokens"] = prompt_tokens;
    out["response_tokens"] = response_tokens;
    for (const auto& [d, a] : by_dataset) out["by_dataset"][d] = a.Json();
    // Policy versions in at most 10 equal ranges.
    nlohmann::json ranges = nlohmann::json::array();
    if (!by_version.empty()) {
      const uint64_t lo = by_version.begin()->first, hi = by_version.rbegin()->first;
      const uint64_t width = std::max<uint64_t>(1, (hi - lo + 10) / 10);
      std::map<uint64_t, Acc> bucket;
      for (const auto& [v, a] : by_version) {
        Acc& b = bucket[(v - lo) / width];
        b.n += a.n, b.reward += a.reward, b.valid += a.valid;
      }
      for (const auto& [k, a] : bucket) {
        auto j = a.Json();
        j["versions"] = {lo + k * width, std::min(hi, lo + (k + 1) * width - 1)};
        ranges.push_back(j);
      }
    }
    out["by_policy_version"] = ranges;
    if (o->json) {
      std::cout << out.dump(2) << "\n";
      return;
    }
    for (const auto& f : out["files"])
      std::cout << f["path"].get<std::string>() << ": " << f["steps"] << " steps, " << f["episodes"]
                << " episodes\n";
    std::cout << "total: " << steps_total << " steps, " << episodes_total << " episodes, "
              << prompt_tokens << " prompt tokens, " << response_tokens
              << " response tokens\n\nby dataset:\n";
    char line[256];
    for (const auto& [d, a] : by_dataset) {
      std::snprintf(line, sizeof line, "  %-24s %8lld steps  reward %7.4f  valid format %6.1f%%\n",
                    d.c_str(), static_cast<long long>(a.n), a.n ? a.reward / a.n : 0,
                    a.n ? 100 * a.valid / a.n : 0);
      std::cout << line;
    }
    std::cout << "\nby policy version:\n";
    for (const auto& r : ranges) {
      std::snprintf(line, sizeof line,
                    "  %6llu-%-6llu %8lld steps  reward %7.4f  valid format %6.1f%%\n",
                    static_cast<unsigned long long>(r["versions"][0].get<uint64_t>()),
                    static_cast<unsigned long long>(r["versions"][1].get<uint64_t>()),
                    static_cast<long long>(r["steps"].get<int64_t>()),
                    r["reward_mean"].get<double>(), 100 * r["valid_format"].get<double>());
      std::cout << line;
    }
  });
}

}  // namespace iranker
