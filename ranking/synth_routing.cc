// Synthetic LLM routing: a model zoo with per-category skill and price, queries with a
// preference over quality and cost.
#include <algorithm>
#include <array>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "base/error.h"
#include "base/rng.h"
#include "ranking/synthetic.h"

namespace iranker {
namespace {

constexpr int kCategories = 5;
const char* const kCategoryNames[kCategories] = {"math", "coding", "writing", "trivia",
                                                 "reasoning"};
// Query templates per category; {x} and {y} are filled with small numbers or words.
const char* const kQueries[kCategories][4] = {
    {"Solve for x: {a}x + {b} = {c}.", "What is the derivative of x^{a} + {b}x?",
     "Compute the sum of the first {c} odd numbers.", "Is {c}{a} a prime number? Show why."},
    {"Write a Python function that reverses a linked list of {a} nodes.",
     "Fix the off-by-one error in this loop: for i in range(1, {c}): total += a[i]",
     "Implement binary search in C++ over a sorted vector of {b} ints.",
     "Write a SQL query that returns the top {a} customers by revenue."},
    {"Write a {a}-line poem about the sea at dawn.",
     "Draft a polite email declining a meeting on day {b}.",
     "Rewrite this paragraph in a formal tone for {c} readers.",
     "Write a short story opening about a lighthouse keeper in {a} sentences."},
    {"Which river flows through Vienna?", "Who painted the ceiling of the Sistine Chapel?",
     "What is the capital city of Australia?", "In which year did the Berlin Wall fall?"},
    {"If all {a} boxes hold {b} red or blue balls and no box is all red, what must be true?",
     "Alice is older than Bob and Bob is older than Carol; who is youngest?",
     "A train leaves at {a} pm at {c} km/h; another follows an hour later at {b}0 km/h. When does "
     "it catch up?",
     "Three switches control {a} bulbs in another room; how do you map them with one visit?"},
};

struct Model {
  std::string name;
  std::array<double, kCategories> skill;
  double price;  // USD per million tokens
  std::string text;
};

std::string Price(double p) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(2) << p;
  return os.str();
}

const std::vector<Model>& Zoo(uint64_t world_seed, int n) {
  static thread_local uint64_t cached_seed = ~uint64_t{0};
  static thread_local int cached_n = -1;
  static thread_local std::vector<Model> zoo;
  if (cached_seed == world_seed && cached_n == n) return zoo;
  static const char* const kNames[] = {
      "atlas", "borealis", "cobalt",  "delta", "ember",    "fjord",  "granite", "helix",
      "iris",  "juniper",  "kestrel", "lumen", "meridian", "nimbus", "onyx",    "pylon"};
  static const int kSizes[] = {3, 7, 13, 34, 70, 180};
  Rng rng(world_seed ^ 0x524F555445ULL);
  zoo.clear();
  for (int m = 0; m < n; ++m) {
    Model model;
    const int size = kSizes[rng.Below(6)];
    model.name = std::string(kNames[m % 16]) + (m >= 16 ? std::to_string(m / 16 + 1) : "") + "-" +
                 std::to_string(size) + "b";
    // Bigger models are better on average and dearer; each has two specialities.
    const double base = 0.35 + 0.08 * std::log2(static_cast<double>(size));
    const int s1 = static_cast<int>(rng.Below(kCategories));
    const int s2 = (s1 + 1 + static_cast<int>(rng.Below(kCategories - 1))) % kCategories;
    for (int c = 0; c < kCategories; ++c) {
      double v = base + 0.06 * (rng.Uniform() - 0.5) + ((c == s1 || c == s2) ? 0.25 : 0.0);
      model.skill[c] = std::min(0.98, std::max(0.05, v - 0.2));
    }
    model.price = std::round(size * (0.02 + 0.02 * rng.Uniform()) * 100) / 100 + 0.05;
    int weak = 0;
    for (int c = 1; c < kCategories; ++c)
      if (model.skill[c] < model.skill[weak]) weak = c;
    model.text = model.name + ": " + std::to_string(size) + "B-parameter model; strong at " +
                 kCategoryNames[s1] + " and " + kCategoryNames[s2] + ", weakest at " +
                 kCategoryNames[weak] + "; $" + Price(model.price) + " per million tokens";
    zoo.push_back(std::move(model));
  }
  cached_seed = world_seed;
  cached_n = n;
  return zoo;
}

std::string FillQuery(const char* tmpl, Rng& rng) {
  std::string s = tmpl;
  for (const char* key : {"{a}", "{b}", "{c}"}) {
    size_t p;
    while ((p = s.find(key)) != std::string::npos)
      s.replace(p, 3, std::to_string(2 + rng.Below(key[1] == 'c' ? 40 : 9)));
  }
  return s;
}

}  // namespace

QueryRecord SyntheticRouting(const SyntheticOptions& o, int index) {
  const int n = o.candidates > 0 ? o.candidates : 10;
  if (n < 2 || n > 48) Fail(ErrorCode::kInvalidArgument, "routing: candidates must be 2..48");
  const auto& zoo = Zoo(o.world_seed, n);
  Rng rng(DeriveSeed(o.seed, static_cast<uint64_t>(index)));
  struct Pref {
    const char* task;
    const char* words;
    double wq, wc;
  };
  static const Pref kPrefs[3] = {
      {"router-perf", "performance first: only answer quality matters", 1.0, 0.0},
      {"router-balanced", "balanced: answer quality and cost matter equally", 0.5, 0.5},
      {"router-cost", "cost first: cost matters four times as much as quality", 0.2, 0.8}};
  const Pref& pref = kPrefs[index % 3];
  const int category = static_cast<int>(rng.Below(kCategories));
  const std::string question = FillQuery(kQueries[category][rng.Below(4)], rng);
  double max_price = 0;
  for (const auto& m : zoo) max_price = std::max(max_price, m.price);
  std::vector<int> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  rng.Shuffle(&order);
  QueryRecord r;
  r.id = "route-" + std::to_string(o.seed) + "-" + std::to_string(index);
  r.task = o.task.empty() ? pref.task : o.task;
  r.scenario = "routing";
  r.query = question + "\n(Routing preference: " + pref.words + ".)";
  std::vector<double> quality, cost, utility;
  // Tokens of the exchange: the query plus a category-typical answer length.
  const double tokens = 50.0 + question.size() / 4.0 + 150.0 * (category == 2 ? 3 : 1);
  for (int i : order) {
    const Model& m = zoo[i];
    r.candidates.push_back({m.name, m.text});
    quality.push_back(m.skill[category]);
    cost.push_back(m.price * tokens / 1e6);
    utility.push_back(pref.wq * m.skill[category] - pref.wc * m.price / max_price);
  }
  const int best =
      static_cast<int>(std::max_element(utility.begin(), utility.end()) - utility.begin());
  r.relevance.assign(n, 0.0);
  r.relevance[best] = 1.0;
  r.positive = best;
  r.extra["category"] = kCategoryNames[category];
  r.extra["weights"] = {pref.wq, pref.wc};
  r.extra["quality"] = quality;
  r.extra["cost"] = cost;
  r.extra["utility"] = utility;
  return r;
}

}  // namespace iranker
