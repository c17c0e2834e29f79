// Line charts of a run's metrics.jsonl into RUN_DIR/plots/ (`iranker plot`, and the end of
// `iranker train`).
//
// One chart per metric (reward, evaluation MRR / nDCG@10 / Hit@1, KL, entropy, gradient norm,
// policy lag, generation and learner tokens/s, step times), x = optimizer step. Each chart is a
// plain SVG written here with no dependencies (opens in any browser), and a PNG drawn by gnuplot
// when it is installed (scripts/setup.sh installs Debian's gnuplot-nox).
#include "cli/plots.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/atomic_file.h"
#include "base/error.h"

namespace iranker {

namespace {

struct Series {
  std::vector<double> x, y;
};

std::string Num(double v) {
  char b[32];
  const double a = std::fabs(v);
  std::snprintf(b, sizeof b, a != 0 && (a < 1e-3 || a >= 1e5) ? "%.2e" : "%.4g", v);
  return b;
}

std::string Svg(const std::string& title, const std::map<std::string, Series>& lines) {
  const double W = 640, H = 360, L = 70, R = 20, T = 36, B = 44;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const auto& [n, s] : lines)
    for (size_t i = 0; i < s.x.size(); ++i) {
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
    }
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= y0) y1 = y0 + (y0 == 0 ? 1 : std::fabs(y0) * 0.1);
  const double pad = (y1 - y0) * 0.05;
  y0 -= pad, y1 += pad;
  auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto py = [&](double y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };
  std::ostringstream o;
  o << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H
    << "' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' "
       "fill='white'/>\n"
    << "<text x='" << L << "' y='22' font-size='15'>" << title << "</text>\n";
  for (int k = 0; k <= 4; ++k) {
    const double y = y0 + (y1 - y0) * k / 4, x = x0 + (x1 - x0) * k / 4;
    o << "<line x1='" << L << "' x2='" << W - R << "' y1='" << py(y) << "' y2='" << py(y)
      << "' stroke='#ddd'/>\n<text x='" << L - 6 << "' y='" << py(y) + 4 << "' text-anchor='end'>"
      << Num(y) << "</text>\n<text x='" << px(x) << "' y='" << H - B + 16
      << "' text-anchor='middle'>" << Num(std::round(x)) << "</text>\n";
  }
  o << "<text x='" << (L + W - R) / 2 << "' y='" << H - 8 << "' text-anchor='middle'>step</text>\n";
  const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"};
  int c = 0;
  for (const auto& [name, s] : lines) {
    const char* col = colors[c % 5];
    o << "<polyline fill='none' stroke='" << col << "' stroke-width='1.8' points='";
    for (size_t i = 0; i < s.x.size(); ++i) o << px(s.x[i]) << "," << py(s.y[i]) << " ";
    o << "'/>\n";
    if (s.x.size() < 40)
      for (size_t i = 0; i < s.x.size(); ++i)
        o << "<circle cx='" << px(s.x[i]) << "' cy='" << py(s.y[i]) << "' r='2.5' fill='" << col
          << "'/>\n";
    o << "<text x='" << W - R - 4 << "' y='" << T + 14 * (c + 1) << "' text-anchor='end' fill='"
      << col << "'>" << name << "</text>\n";
    ++c;
  }
  o << "</svg>\n";
  return o.str();
}

// The same chart as a PNG through gnuplot (pngcairo), written to a temporary name and renamed.
// Returns false when gnuplot is not installed or fails (the SVG is there either way).
bool Png(const std::string& path, const std::string& title,
         const std::map<std::string, Series>& lines) {
  static const bool have = std::system("command -v gnuplot > /dev/null 2>&1") == 0;
  if (!have) return false;
  const std::string tmp = path + ".tmp.png";
  auto quoted = [](const std::string& t) {  // a gnuplot single-quoted string: a quote is doubled
    std::string q = "'";
    for (char c : t) q += c == '\'' ? std::string("''") : std::string(1, c);
    return q + "'";
  };
  std::ostringstream o;
  int k = 0;
  for (const auto& [name, s] : lines) {
    o << "$d" << k++ << " << EOD\n";
    for (size_t i = 0; i < s.x.size(); ++i) o << s.x[i] << " " << s.y[i] << "\n";
    o << "EOD\n";
  }
  o << "set terminal pngcairo size 800,450 font ',10' noenhanced\nset output " << quoted(tmp)
    << "\n"
    << "set title " << quoted(title) << "\nset xlabel 'step'\nset grid\nset key top left\nplot ";
  k = 0;
  for (const auto& [name, s] : lines) {
    o << (k ? ", " : "") << "$d" << k << " using 1:2 with "
      << (s.x.size() < 40 ? "linespoints" : "lines") << " lw 2 title " << quoted(name);
    ++k;
  }
  o << "\n";
  FILE* p = ::popen("gnuplot > /dev/null 2>&1", "w");
  if (!p) return false;
  const std::string script = o.str();
  std::fwrite(script.data(), 1, script.size(), p);
  if (::pclose(p) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace

int WritePlots(const std::string& run_dir) {
  const std::string path = run_dir + "/metrics.jsonl";
  std::ifstream in(path);
  if (!in) Fail(ErrorCode::kNotFound, path, ": cannot open (is ", run_dir, " a run directory?)");
  std::map<std::string, Series> train, eval;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      // A crash can leave the last line cut short; anything else is reported.
      if (in.peek() == EOF) break;
      Fail(ErrorCode::kInvalidArgument, path, ":", lineno, ": not JSON: ", e.what());
    }
    const double step = j.value("step", 0.0);
    auto& into = j.value("type", "") == "eval" ? eval : train;
    for (const auto& [k, v] : j.items())
      if (v.is_number() && k != "step") {
        into[k].x.push_back(step);
        into[k].y.push_back(v.get<double>());
      }
  }
  const std::string dir = run_dir + "/plots";
  MakeDirs(dir);
  int written = 0;
  auto write = [&](const std::string& file, const std::string& title,
                   std::map<std::string, Series> lines) {
    for (auto it = lines.begin(); it != lines.end();)
      it = it->second.x.empty() ? lines.erase(it) : std::next(it);
    if (lines.empty()) return;
    WriteFileAtomic(dir + "/" + file, Svg(title, lines));
    Png(dir + "/" + file.substr(0, file.size() - 4) + ".png", title, lines);
    ++written;
  };
  auto pick = [](std::map<std::string, Series>& m, std::initializer_list<const char*> keys) {
    std::map<std::string, Series> out;
    for (const char* k : keys)
      if (m.count(k)) out[k] = m[k];
    return out;
  };
  write("reward.svg", "training reward (mean over the step's samples)",
        pick(train, {"reward_mean"}));
  write("eval.svg", "held-out evaluation of the policy", pick(eval, {"mrr", "ndcg@10", "hit@1"}));
  write("kl.svg", "KL to the behaviour / reference policy", pick(train, {"kl"}));
  write("entropy.svg", "policy entropy", pick(train, {"entropy"}));
  write("grad_norm.svg", "gradient norm (before clipping)", pick(train, {"grad_norm"}));
  write("throughput.svg", "tokens per second",
        pick(train, {"generated_tokens_per_s", "learner_tokens_per_s"}));
  write("time.svg", "seconds per step",
        pick(train, {"rollout_seconds", "learn_seconds", "wait_seconds"}));
  write("value.svg", "PPO critic: value loss and explained variance",
        pick(train, {"value_loss", "explained_variance"}));
  write("format.svg", "valid answer format", pick(train, {"valid_format"}));
  write("lag.svg", "policy lag of the trained samples (versions)", pick(train, {"policy_lag"}));
  return written;
}

}  // namespace iranker
