// Synthetic recommendation: genre × era catalogue, users with a dominant genre and era.
#include <algorithm>
#include <array>
#include <cmath>

#include "base/error.h"
#include "base/rng.h"
#include "ranking/synthetic.h"

namespace iranker {
namespace {

struct Genre {
  const char* name;
  std::array<const char*, 8> words;
};
const Genre kGenres[] = {
    {"Sci-Fi", {"Star", "Galaxy", "Robot", "Orbit", "Android", "Nebula", "Quantum", "Colony"}},
    {"Horror", {"Blood", "Haunting", "Crypt", "Shadow", "Curse", "Nightmare", "Grave", "Scream"}},
    {"Romance", {"Love", "Heart", "Kiss", "Wedding", "Sweetheart", "Promise", "Rose", "Valentine"}},
    {"Western",
     {"Outlaw", "Sheriff", "Canyon", "Frontier", "Saddle", "Gunslinger", "Prairie", "Ranch"}},
    {"Comedy", {"Wacky", "Blunder", "Prank", "Goofball", "Mixup", "Hijinks", "Fiasco", "Caper"}},
    {"War",
     {"Battalion", "Trench", "Siege", "Sniper", "Armistice", "Frontline", "Convoy", "Platoon"}},
    {"Animation",
     {"Bunny", "Dragonling", "Toybox", "Puppy", "Wizardkin", "Cartoon", "Teapot", "Kitten"}},
    {"Crime",
     {"Heist", "Mobster", "Detective", "Alibi", "Racket", "Informant", "Getaway", "Syndicate"}},
};
const char* const kNouns[] = {"Protocol", "Legacy", "Horizon", "Affair",  "Reckoning", "Chronicles",
                              "Code",     "Road",   "Season",  "Returns", "Story",     "Games"};
const char* const kEras[] = {"1950s", "1970s", "1990s", "2010s"};
constexpr int kNumGenres = 8, kNumEras = 4, kItemsPerCell = 12;

struct Item {
  int genre, era;
  std::string text;
};

// The catalogue: kItemsPerCell items for each (genre, era), titles made from the genre's words.
const std::vector<Item>& Catalogue(uint64_t world_seed) {
  static thread_local uint64_t cached_seed = ~uint64_t{0};
  static thread_local std::vector<Item> items;
  if (cached_seed == world_seed) return items;
  items.clear();
  Rng rng(world_seed ^ 0x5245434FULL);
  for (int g = 0; g < kNumGenres; ++g)
    for (int e = 0; e < kNumEras; ++e)
      for (int k = 0; k < kItemsPerCell; ++k) {
        const Genre& genre = kGenres[g];
        const int year = 1950 + 20 * e + static_cast<int>(rng.Below(10));
        std::string title = std::string(genre.words[rng.Below(8)]) + " " +
                            genre.words[rng.Below(8)] + " " + kNouns[rng.Below(12)];
        items.push_back({g, e, title + " (" + std::to_string(year) + "; " + genre.name + ")"});
      }
  // Titles may repeat by chance; make every text unique with a roman-numeral-like suffix.
  for (size_t i = 0; i < items.size(); ++i) {
    int copies = 0;
    for (size_t j = 0; j < i; ++j)
      if (items[j].text == items[i].text) ++copies;
    if (copies) items[i].text.insert(items[i].text.find(" ("), " " + std::to_string(copies + 1));
  }
  cached_seed = world_seed;
  return items;
}

int Pick(Rng& rng, const std::vector<int>& v) { return v[rng.Below(v.size())]; }

}  // namespace

QueryRecord SyntheticRecommendation(const SyntheticOptions& o, int index) {
  const int n = o.candidates > 0 ? o.candidates : 20;
  if (n < 2 || n > 60)
    Fail(ErrorCode::kInvalidArgument, "recommendation: candidates must be 2..60");
  if (!(o.genre_skew >= 0 && o.genre_skew <= 10))
    Fail(ErrorCode::kInvalidArgument, "recommendation: genre skew must be in [0, 10]");
  const auto& items = Catalogue(o.world_seed);
  Rng rng(DeriveSeed(o.seed, static_cast<uint64_t>(index)));
  int genre = 0;
  if (o.genre_skew > 0) {
    // Popularity order of the genres: a permutation fixed by the world.
    std::vector<int> order(kNumGenres);
    for (int g = 0; g < kNumGenres; ++g) order[g] = g;
    Rng world(o.world_seed ^ 0x504F5055ULL);
    world.Shuffle(&order);
    double total = 0;
    for (int k = 0; k < kNumGenres; ++k) total += std::pow(k + 1.0, -o.genre_skew);
    double u = rng.Uniform() * total;
    int k = 0;
    for (; k + 1 < kNumGenres; ++k) {
      u -= std::pow(k + 1.0, -o.genre_skew);
      if (u < 0) break;
    }
    genre = order[k];
  } else {
    genre = static_cast<int>(rng.Below(kNumGenres));
  }
  const int era = static_cast<int>(rng.Below(kNumEras));
  std::vector<int> match, same_genre, same_era, other;
  for (size_t i = 0; i < items.size(); ++i) {
    const bool g = items[i].genre == genre, e = items[i].era == era;
    (g && e ? match : g ? same_genre : e ? same_era : other).push_back(static_cast<int>(i));
  }
  rng.Shuffle(&match);
  // History: 6-10 items, about 70% matching both preferences, the rest anything but matching.
  const int hist_len = 6 + static_cast<int>(rng.Below(5));
  std::vector<int> history;
  size_t next_match = 0;
  for (int h = 0; h < hist_len; ++h) {
    if (rng.Uniform() < 0.7 && next_match + 1 < match.size()) {
      history.push_back(match[next_match++]);
    } else {
      const double u = rng.Uniform();
      history.push_back(Pick(rng, u < 0.3 ? same_genre : u < 0.5 ? same_era : other));
    }
  }
  // Guarantee the preference is visible: at least 3 history items match both.
  for (int h = 0; next_match < 3 && h < hist_len; ++h) {
    const Item& it = items[history[h]];
    if (!(it.genre == genre && it.era == era)) history[h] = match[next_match++];
  }
  const int positive = match[next_match];  // never in the history
  std::vector<int> cands = {positive};
  auto add_unique = [&](const std::vector<int>& pool) {
    for (int tries = 0; tries < 50; ++tries) {
      const int c = Pick(rng, pool);
      if (std::find(cands.begin(), cands.end(), c) == cands.end() &&
          std::find(history.begin(), history.end(), c) == history.end()) {
        cands.push_back(c);
        return;
      }
    }
  };
  // Negatives: a quarter share the genre, a quarter the era (hard), the rest neither.
  while (static_cast<int>(cands.size()) < n) {
    const double u = rng.Uniform();
    add_unique(u < 0.25 ? same_genre : u < 0.5 ? same_era : other);
  }
  rng.Shuffle(&cands);
  QueryRecord r;
  r.id = "rec-" + std::to_string(o.seed) + "-" + std::to_string(index);
  r.task = o.task.empty() ? "rec-synth" : o.task;
  r.scenario = "recommendation";
  r.query = "";
  for (int c : cands) {
    r.candidates.push_back({"item" + std::to_string(c), items[c].text});
    r.relevance.push_back(c == positive ? 1.0 : 0.0);
    if (c == positive) r.positive = static_cast<int>(r.candidates.size()) - 1;
  }
  nlohmann::json hist = nlohmann::json::array();
  for (int h : history) hist.push_back(items[h].text);
  r.extra["history"] = std::move(hist);
  r.extra["preferred_genre"] = kGenres[genre].name;
  r.extra["preferred_era"] = kEras[era];
  return r;
}

}  // namespace iranker
