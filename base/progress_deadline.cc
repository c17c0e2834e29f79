#include "base/progress_deadline.h"

#include <utility>

namespace iranker {

ProgressDeadline::ProgressDeadline(std::chrono::milliseconds timeout,
                                   std::function<std::string()> progress)
    : timeout_(timeout), progress_(std::move(progress)), start_(Clock::now()), restarted_(start_) {}

bool ProgressDeadline::Expired(std::string* first_news) {
  if (first_news) first_news->clear();
  const auto now = Clock::now();
  if (now - restarted_ <= timeout_) return false;
  std::string news = progress_ ? progress_() : std::string();
  if (news.empty()) return true;
  if (extensions_++ == 0 && first_news) *first_news = std::move(news);
  restarted_ = now;
  return false;
}

std::string ProgressDeadline::Note() const {
  if (extensions_ == 0) return "";
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  const auto now = Clock::now();
  return "; waited " + std::to_string(duration_cast<milliseconds>(now - start_).count()) +
         " ms in all: a peer reported progress on its own work until " +
         std::to_string(duration_cast<milliseconds>(now - restarted_).count()) +
         " ms ago, then none";
}

}  // namespace iranker
