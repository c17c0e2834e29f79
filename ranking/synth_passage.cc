// Synthetic passage ranking: topic × aspect questions with controlled lexical and semantic
// overlap between the query and each passage.
#include <algorithm>
#include <array>

#include "base/error.h"
#include "base/rng.h"
#include "ranking/synthetic.h"

namespace iranker {
namespace {

struct Topic {
  const char* name;                  // as it appears in queries
  std::array<const char*, 5> words;  // topical vocabulary used by passages about it
};
const Topic kTopics[] = {
    {"volcano", {"magma", "lava", "crater", "tectonic plates", "ash clouds"}},
    {"honey bee", {"hive", "pollen", "nectar", "queen", "colony"}},
    {"solar panel", {"photovoltaic cells", "sunlight", "inverter", "silicon", "rooftop"}},
    {"coral reef", {"polyps", "algae", "lagoon", "bleaching", "reef fish"}},
    {"espresso", {"coffee beans", "crema", "grinder", "portafilter", "roast"}},
    {"glacier", {"ice sheet", "moraine", "meltwater", "crevasse", "snowfall"}},
    {"vaccine", {"antibodies", "immune system", "booster", "antigen", "clinical trials"}},
    {"marathon", {"runners", "finish line", "pace", "training plan", "endurance"}},
    {"lighthouse", {"lantern", "keeper", "fresnel lens", "coastline", "ships"}},
    {"sourdough", {"starter", "fermentation", "flour", "crust", "wild yeast"}},
    {"tornado", {"funnel cloud", "supercell", "wind speed", "storm chasers", "debris"}},
    {"violin", {"bow", "strings", "luthier", "spruce top", "orchestra"}},
};
constexpr int kNumTopics = 12;

struct Aspect {
  const char* name;
  const char* query;    // {t} = topic; the words the question uses
  const char* answer;   // how a relevant passage says it: synonyms, no word of the question
  const char* partial;  // the same answer reusing one word of the question
  const char* echo;     // a passage that repeats the question's words without answering it
};
const Aspect kAspects[] = {
    {"cause", "what causes a {t} to form",
     "{T} formation is driven by {w1}; it begins once {w2} builds up.",
     "A {t} starts to form when {w1} meets {w2}.",
     "People often ask what causes things to form, and a {t} is a common example of such "
     "questions."},
    {"location", "where is a {t} usually found",
     "Most {t}s sit in areas close to {w1}, typically near {w2}.",
     "A {t} is usually found near {w1} and {w2}.",
     "Where a {t} is usually found was the subject of a quiz where nobody found the answer."},
    {"duration", "how long does a {t} last",
     "A typical {t} persists for years, its {w1} outliving its {w2}.",
     "A {t} can last for decades, its {w1} outliving its {w2}.",
     "How long does a {t} last is a long question; this page lasts only one paragraph."},
    {"cost", "how much does a {t} cost",
     "Prices for a {t} run from a few hundred dollars, mostly for {w1} and {w2}.",
     "A {t} can cost a few hundred dollars, mostly for {w1} and {w2}.",
     "How much does it cost to ask how much a {t} costs? Nothing, this is a forum thread."},
    {"discovery", "who discovered the {t}",
     "Early naturalists first described the {t}, noting its {w1} and {w2}.",
     "The {t} was discovered by early naturalists who noted its {w1} and {w2}.",
     "Who discovered the {t} fan club? Its founder discovered the club name on a napkin."},
    {"importance", "why is a {t} important",
     "The {t} matters because its {w1} supports {w2} and everything around it.",
     "A {t} is important because its {w1} supports {w2}.",
     "Why is a {t} important, why is anything important: a philosophy blog post."},
};
constexpr int kNumAspects = 6;

std::string Fill(std::string s, const Topic& t, Rng& rng) {
  std::string cap = t.name;
  cap[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(cap[0])));
  const int a = static_cast<int>(rng.Below(5));
  const int b = (a + 1 + static_cast<int>(rng.Below(4))) % 5;
  for (auto [key, val] : {std::pair<std::string, std::string>{"{T}", cap},
                          {"{t}", t.name},
                          {"{w1}", t.words[a]},
                          {"{w2}", t.words[b]}}) {
    size_t p;
    while ((p = s.find(key)) != std::string::npos) s.replace(p, key.size(), val);
  }
  return s;
}

// A sentence of topical filler so passages about the same topic overlap semantically.
std::string Filler(const Topic& t, Rng& rng) {
  static const char* const kFill[] = {"Observers mention {w1} and {w2} in the same breath.",
                                      "Guides about {t}s always cover {w1}.",
                                      "Photos tend to show {w1} next to {w2}."};
  return Fill(kFill[rng.Below(3)], t, rng);
}

}  // namespace

QueryRecord SyntheticPassage(const SyntheticOptions& o, int index) {
  const int n = o.candidates > 0 ? o.candidates : 9;
  if (n < 2 || n > 40) Fail(ErrorCode::kInvalidArgument, "passage: candidates must be 2..40");
  Rng rng(DeriveSeed(o.seed, static_cast<uint64_t>(index)));
  const int topic = static_cast<int>(rng.Below(kNumTopics));
  const int aspect = static_cast<int>(rng.Below(kNumAspects));
  const Topic& t = kTopics[topic];
  std::string query = Fill(kAspects[aspect].query, t, rng) + "?";

  std::vector<std::string> texts;
  std::vector<double> rel;
  auto add = [&](std::string text, double r) {
    if (std::find(texts.begin(), texts.end(), text) != texts.end()) return false;
    texts.push_back(std::move(text));
    rel.push_back(r);
    return true;
  };
  // The relevant passage: the right aspect of the right topic, in other words.
  const bool partial = rng.Uniform() < 0.5;
  add(Fill(partial ? kAspects[aspect].partial : kAspects[aspect].answer, t, rng) + " " +
          Filler(t, rng),
      1.0);
  int guard = 0;
  while (static_cast<int>(texts.size()) < n && guard++ < 1000) {
    const double u = rng.Uniform();
    if (u < 0.4) {  // semantic distractor: same topic, another aspect
      const int other = (aspect + 1 + static_cast<int>(rng.Below(kNumAspects - 1))) % kNumAspects;
      add(Fill(kAspects[other].answer, t, rng) + " " + Filler(t, rng), 0.0);
    } else if (u < 0.55) {  // lexical distractor: the question's words, no answer
      add(Fill(kAspects[aspect].echo, t, rng), 0.0);
    } else {  // another topic, the same aspect (shares the answer phrasing)
      const Topic& o2 = kTopics[(topic + 1 + rng.Below(kNumTopics - 1)) % kNumTopics];
      add(Fill(kAspects[aspect].answer, o2, rng) + " " + Filler(o2, rng), 0.0);
    }
  }
  if (static_cast<int>(texts.size()) < n)
    Fail(ErrorCode::kInvalidArgument, "passage: could not make ", n, " distinct passages");
  std::vector<int> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  rng.Shuffle(&order);
  QueryRecord r;
  r.id = "psg-" + std::to_string(o.seed) + "-" + std::to_string(index);
  r.task = o.task.empty() ? "passage-synth" : o.task;
  r.scenario = "passage";
  r.query = query;
  for (int k = 0; k < n; ++k) {
    r.candidates.push_back({"p" + std::to_string(k), texts[order[k]]});
    r.relevance.push_back(rel[order[k]]);
    if (rel[order[k]] > 0) r.positive = k;
  }
  r.extra["topic"] = t.name;
  r.extra["aspect"] = kAspects[aspect].name;
  return r;
}

}  // namespace iranker
