#include "trainer/progress.h"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace iranker {
namespace {
std::string Clock(double s) {
  char b[32];
  const long t = static_cast<long>(s + 0.5);
  if (t >= 3600)
    std::snprintf(b, sizeof(b), "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else
    std::snprintf(b, sizeof(b), "%ld:%02ld", t / 60, t % 60);
  return b;
}
double Get(const nlohmann::json& m, const char* k) {
  return m.contains(k) ? m[k].get<double>() : 0.0;
}
}  // namespace

Progress::Progress(int64_t total_steps, int64_t start_step)
    : total_(total_steps),
      start_(start_step),
      tty_(::isatty(STDERR_FILENO)),
      t0_(std::chrono::steady_clock::now()),
      last_print_(t0_ - std::chrono::hours(1)) {}

void Progress::Update(int64_t step, const nlohmann::json& m) {
  auto now = std::chrono::steady_clock::now();
  if (!tty_ && step < total_ && now - last_print_ < std::chrono::seconds(5)) return;
  last_print_ = now;
  const double elapsed = std::chrono::duration<double>(now - t0_).count();
  const double per_step = step > start_ ? elapsed / (step - start_) : 0;
  const double eta = per_step * (total_ - step);
  char line[400];
  std::snprintf(line, sizeof(line),
                "step %lld/%lld | %s elapsed, ETA %s | reward %.3f | eval MRR %s | KL %.4f | lag "
                "%.1f | gen %.0f tok/s | learn %.0f tok/s",
                static_cast<long long>(step), static_cast<long long>(total_),
                Clock(elapsed).c_str(), Clock(eta).c_str(), Get(m, "reward_mean"),
                m.contains("eval_mrr")
                    ? std::to_string(m["eval_mrr"].get<double>()).substr(0, 6).c_str()
                    : "-",
                Get(m, "kl"), Get(m, "policy_lag"), Get(m, "generated_tokens_per_s"),
                Get(m, "learner_tokens_per_s"));
  if (tty_)
    std::fprintf(stderr, "\r\033[K%s", line);
  else
    std::fprintf(stderr, "%s\n", line);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::Finish() {
  if (tty_ && drawn_) std::fprintf(stderr, "\n");
}

}  // namespace iranker
