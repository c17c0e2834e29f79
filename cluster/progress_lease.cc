#include "cluster/progress_lease.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "base/clock.h"
#include "base/log.h"
#include "base/progress_deadline.h"

namespace iranker {
namespace fs = std::filesystem;

namespace {
constexpr char kMagic[] = "iranker-progress-lease 1 ";
constexpr size_t kRecordBytes = 128;
constexpr size_t kWhatChars = 60;  // the record's fixed part is 64 bytes of 128

std::string LeasePath(const std::string& dir, int rank) {
  return dir + "/rank-" + std::to_string(rank);
}
}  // namespace

std::string ProgressLeaseDir(const std::string& run_dir) { return run_dir + "/progress"; }

ProgressLease::ProgressLease(std::string dir, int rank)
    : dir_(std::move(dir)), path_(LeasePath(dir_, rank)) {
  std::error_code ec;
  if (fs::exists(path_, ec)) Write();
}

ProgressLease::~ProgressLease() = default;

void ProgressLease::Begin(const std::string& what) {
  phases_.push_back(what);
  ++count_;
  Write();
}

void ProgressLease::Beat() {
  if (phases_.empty()) return;
  ++count_;
  if (SteadyMs() - last_write_ms_ >= kMinWriteMs) Write();
}

void ProgressLease::End() {
  if (phases_.empty()) return;
  phases_.pop_back();
  ++count_;
  Write();
}

void ProgressLease::Write() {
  last_write_ms_ = SteadyMs();
  // One fixed-size record written in place at offset 0, the file closed after each write (an NFS
  // client sends the new contents on close).
  char rec[kRecordBytes];
  std::memset(rec, ' ', sizeof(rec));
  std::string what = phases_.empty() ? std::string() : phases_.back().substr(0, kWhatChars);
  for (char& c : what)
    if (c == '\n' || c == '\r') c = ' ';
  const int n =
      std::snprintf(rec, sizeof(rec), "%scount=%020llu busy=%d what=%s", kMagic,
                    static_cast<unsigned long long>(count_), phases_.empty() ? 0 : 1, what.c_str());
  if (n > 0 && static_cast<size_t>(n) < sizeof(rec)) rec[n] = ' ';
  rec[sizeof(rec) - 1] = '\n';
  if (!dir_made_) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    dir_made_ = !ec;
  }
  std::string why;
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    why = std::strerror(errno);
  } else {
    const ssize_t w = ::pwrite(fd, rec, sizeof(rec), 0);
    if (w != static_cast<ssize_t>(sizeof(rec))) why = w < 0 ? std::strerror(errno) : "short write";
    if (::close(fd) != 0 && why.empty()) why = std::strerror(errno);
  }
  if (!why.empty() && !warned_) {
    warned_ = true;
    IR_LOG_WARN(
        "progress lease {}: cannot write ({}); peers waiting on this rank's solo work (evaluation, "
        "checkpoints) will time out after comm.allreduce.timeout_ms",
        path_, why);
  }
}

bool ReadProgressLease(const std::string& path, LeaseRecord* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char rec[kRecordBytes + 1] = {};
  const ssize_t n = ::pread(fd, rec, kRecordBytes, 0);
  ::close(fd);
  if (n != static_cast<ssize_t>(kRecordBytes) || rec[kRecordBytes - 1] != '\n') return false;
  const size_t magic = std::strlen(kMagic);
  if (std::strncmp(rec, kMagic, magic) != 0) return false;
  unsigned long long count = 0;
  int busy = 0, used = 0;
  if (std::sscanf(rec + magic, "count=%20llu busy=%1d what=%n", &count, &busy, &used) != 2 ||
      used == 0)
    return false;
  std::string what(rec + magic + used, kRecordBytes - 1 - magic - used);
  what.erase(what.find_last_not_of(' ') + 1);
  out->count = count;
  out->busy = busy != 0;
  out->what = std::move(what);
  return true;
}

ProgressWatch::ProgressWatch(std::string dir, int self_rank)
    : dir_(std::move(dir)), self_(self_rank) {}

std::string ProgressWatch::Progress() {
  std::string news;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind("rank-", 0) != 0) continue;
    int rank = -1;
    try {
      size_t used = 0;
      rank = std::stoi(name.substr(5), &used);
      if (used != name.size() - 5) continue;
    } catch (const std::exception&) {
      continue;
    }
    if (rank == self_) continue;
    LeaseRecord r;
    if (!ReadProgressLease(it->path().string(), &r)) continue;
    auto [seen, first] = seen_.try_emplace(rank, Seen{r.count, false, ""});
    const bool moved = first || seen->second.count != r.count;
    // A rank busy at the last look that has since closed its phase is on its way to the
    // collective: one more time-out for it to arrive.
    if (moved && news.empty()) {
      if (r.busy)
        news =
            "rank " + std::to_string(rank) + " is busy with '" + r.what + "' and making progress";
      else if (seen->second.busy)
        news = "rank " + std::to_string(rank) + " has just finished '" + seen->second.what + "'";
    }
    seen->second = Seen{r.count, r.busy, r.what};
  }
  return news;
}

bool WaitWhileProgressing(const std::function<bool()>& ready, std::chrono::milliseconds timeout,
                          ProgressWatch* watch, const std::string& who) {
  std::function<std::string()> probe;
  if (watch) probe = [watch] { return watch->Progress(); };
  ProgressDeadline deadline(timeout, std::move(probe));
  while (!ready()) {
    std::string news;
    if (deadline.Expired(&news)) return false;
    if (!news.empty())
      IR_LOG_INFO(
          "{}: past its time-out of {} s, but learner {}: waiting on (the time-out restarts while "
          "it "
          "progresses)",
          who, timeout.count() / 1000.0, news);
  }
  return true;
}

}  // namespace iranker
