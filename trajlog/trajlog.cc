#include "trajlog/trajlog.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "base/clock.h"
#include "base/error.h"
#include "base/log.h"
#include "base/rng.h"
#include "trajlog/record_columns.h"

namespace iranker {
using h5::Handle;
using h5::RecordColumns;

namespace {

std::string ReadStringAttr(hid_t obj, const std::string& name, const std::string& context) {
  if (H5Aexists(obj, name.c_str()) <= 0) return "";
  Handle a(IR_H5(H5Aopen(obj, name.c_str(), H5P_DEFAULT), context), H5Aclose);
  Handle t(IR_H5(H5Aget_type(a.get()), context), H5Tclose);
  size_t n = H5Tget_size(t.get());
  std::string s(n, '\0');
  Handle mt(IR_H5(H5Tcopy(H5T_C_S1), context), H5Tclose);
  IR_H5(H5Tset_size(mt.get(), n), context);
  IR_H5(H5Aread(a.get(), mt.get(), s.data()), context);
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

void WriteStringAttr(hid_t obj, const std::string& name, const std::string& value,
                     const std::string& context) {
  Handle t(IR_H5(H5Tcopy(H5T_C_S1), context), H5Tclose);
  IR_H5(H5Tset_size(t.get(), std::max<size_t>(1, value.size())), context);
  Handle space(IR_H5(H5Screate(H5S_SCALAR), context), H5Sclose);
  Handle a(
      IR_H5(H5Acreate2(obj, name.c_str(), t.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), context),
      H5Aclose);
  std::string v = value.empty() ? std::string(1, '\0') : value;
  IR_H5(H5Awrite(a.get(), t.get(), v.data()), context);
}
// Bytes this process may still add to `path`: the smaller of the file system's free space and the
// file-size limit (RLIMIT_FSIZE) minus the file's size.
uint64_t Headroom(const std::string& path) {
  uint64_t room = UINT64_MAX;
  auto dir = std::filesystem::path(path).parent_path();
  struct statvfs vfs;
  if (::statvfs(dir.empty() ? "." : dir.c_str(), &vfs) == 0)
    room = uint64_t(vfs.f_bavail) * vfs.f_frsize;
  struct rlimit rl;
  struct stat st;
  if (::getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      ::stat(path.c_str(), &st) == 0) {
    uint64_t left = rl.rlim_cur > uint64_t(st.st_size) ? rl.rlim_cur - st.st_size : 0;
    room = std::min(room, left);
  }
  return room;
}
}  // namespace

struct TrajectoryLogWriter::File {
  Handle file, steps, episodes;
  RecordColumns<StepRecord> step_columns;
  RecordColumns<EpisodeSummary> episode_columns;
  Clock::time_point last_flush = Clock::now();
};

TrajectoryLogWriter::TrajectoryLogWriter(const std::string& path, const TrajlogOptions& o,
                                         const std::map<std::string, std::string>& attributes)
    : path_(path), options_(o), file_(std::make_unique<File>()), queue_(o.queue_batches) {
  h5::QuietErrors quiet;
  const std::string& ctx = path;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent))
    Fail(ErrorCode::kNotFound, "trajectory log '", path, "': directory '", parent.string(),
         "' does not exist");
  Handle fapl(IR_H5(H5Pcreate(H5P_FILE_ACCESS), ctx), H5Pclose);
  IR_H5(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST), ctx);
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
  if (f < 0)
    Fail(ErrorCode::kFailedPrecondition, "cannot create trajectory log '", path,
         "' (permissions? disk full?)");
  File& F = *file_;
  F.file = Handle(f, H5Fclose);
  F.steps =
      Handle(IR_H5(H5Gcreate2(f, "steps", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), ctx), H5Gclose);
  F.episodes = Handle(IR_H5(H5Gcreate2(f, "episodes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), ctx),
                      H5Gclose);
  F.step_columns.Create(F.steps.get(), o.chunk_rows, o.chunk_tokens, o.deflate, ctx);
  F.episode_columns.Create(F.episodes.get(), o.chunk_rows, o.chunk_tokens, o.deflate, ctx);
  WriteStringAttr(f, "schema_version", std::to_string(kTrajlogSchemaVersion), ctx);
  for (const auto& [k, v] : attributes) WriteStringAttr(f, k, v, ctx);
  IR_H5(H5Fstart_swmr_write(f), ctx);
  thread_ = std::thread([this] { Run(); });
}

TrajectoryLogWriter::~TrajectoryLogWriter() {
  try {
    Close();
  } catch (const std::exception& e) {
    IR_LOG_ERROR("trajectory log {}: {}", path_, e.what());
  }
}

void TrajectoryLogWriter::ThrowIfFailed() {
  MutexLock l(mu_);
  if (!error_.empty())
    Fail(ErrorCode::kResourceExhausted, "trajectory log '", path_, "': ", error_);
}

bool TrajectoryLogWriter::KeepEpisode(uint64_t episode_id, double sample) {
  return sample >= 1.0 || Rng(episode_id).Uniform() < sample;  // the id's first SplitMix64 draw
}

void TrajectoryLogWriter::Append(TrajectoryBatch batch) {
  ThrowIfFailed();
  int64_t left_out = 0;
  if (options_.sample < 1.0) {
    const size_t before = batch.steps.size();
    const double f = options_.sample;
    auto& st = batch.steps;
    st.erase(std::remove_if(st.begin(), st.end(),
                            [f](const StepRecord& r) { return !KeepEpisode(r.episode_id, f); }),
             st.end());
    auto& ep = batch.episodes;
    ep.erase(std::remove_if(ep.begin(), ep.end(),
                            [f](const EpisodeSummary& e) { return !KeepEpisode(e.episode_id, f); }),
             ep.end());
    left_out = static_cast<int64_t>(before - st.size());
  }
  const auto t0 = Clock::now();
  while (true) {
    auto r = queue_.Push(batch, std::chrono::milliseconds(200));
    if (r == QueueResult::kOk) break;
    if (r == QueueResult::kClosed) {
      ThrowIfFailed();
      Fail(ErrorCode::kFailedPrecondition, "trajectory log '", path_, "' is closed");
    }
    ThrowIfFailed();  // full: keep waiting unless the writer died
  }
  const double waited = SecondsSince(t0);
  if (waited > 1.0)
    IR_LOG_WARN(
        "trajectory log {}: the disk is not keeping up: training waited {:.1f} s for the writer "
        "(back-pressure; trajlog.sample < 1 logs a fraction of the episodes instead)",
        path_, waited);
  MutexLock l(mu_);
  stats_.blocked_seconds += waited;
  stats_.sampled_out_steps += left_out;
}

void TrajectoryLogWriter::Run() {
  File& F = *file_;
  // HDF5 cannot recover from a write that fails half-way through a flush, so the writer stops
  // while a reserve is left: room for every column to open a new chunk plus twice the batch.
  const uint64_t chunk_reserve =
      8ull * options_.chunk_tokens * 4 + 40ull * options_.chunk_rows * 8 + (1u << 20);
  TrajectoryBatch b;
  h5::QuietErrors quiet;
  while (true) {
    auto r = queue_.Pop(&b, std::chrono::milliseconds(100));
    const auto t0 = Clock::now();
    try {
      if (r == QueueResult::kClosed) break;
      if (r == QueueResult::kOk) {
        const uint64_t need = chunk_reserve + 2 * TrajectoryPayloadBytes(b);
        const uint64_t room = Headroom(path_);
        if (room < need) {
          // Close cleanly now: the file stays complete and readable up to the last batch.
          IR_H5(H5Fflush(F.file.get(), H5F_SCOPE_GLOBAL), path_);
          Fail(ErrorCode::kResourceExhausted, "disk nearly full (", room >> 10, " KiB left, ",
               need >> 10, " KiB reserved): logging stopped after ", stats().steps,
               " steps; the file holds them all");
        }
        const int64_t bytes = F.step_columns.Append(b.steps) + F.episode_columns.Append(b.episodes);
        MutexLock l(mu_);
        stats_.batches++;
        stats_.steps += b.steps.size();
        stats_.episodes += b.episodes.size();
        stats_.bytes += bytes;
      }
      const auto now = Clock::now();
      if (now - F.last_flush >= std::chrono::duration<double>(options_.flush_seconds)) {
        IR_H5(H5Fflush(F.file.get(), H5F_SCOPE_GLOBAL), path_);
        F.last_flush = now;
        MutexLock l(mu_);
        stats_.flushes++;
      }
      MutexLock l(mu_);
      stats_.write_seconds += SecondsSince(t0);
    } catch (const std::exception& ex) {
      {
        MutexLock l(mu_);
        error_ = ex.what();
      }
      IR_LOG_ERROR("trajectory log {} stopped: {}", path_, ex.what());
      queue_.Close();
      return;
    }
  }
}

void TrajectoryLogWriter::Close() {
  if (closed_) return;
  closed_ = true;
  queue_.Close();
  if (thread_.joinable()) thread_.join();
  {
    h5::QuietErrors quiet;
    if (file_ && file_->file) {
      H5Fflush(file_->file.get(), H5F_SCOPE_GLOBAL);
      MutexLock l(mu_);
      stats_.flushes++;
    }
    file_.reset();  // closes every dataset, then the file
  }
  ThrowIfFailed();
}

TrajlogStats TrajectoryLogWriter::stats() const {
  MutexLock l(mu_);
  return stats_;
}

// ---------------------------------------------------------------------------------------------
struct TrajectoryLogReader::File {
  Handle file, steps, episodes;
  RecordColumns<StepRecord> step_columns;
  RecordColumns<EpisodeSummary> episode_columns;
};

TrajectoryLogReader::TrajectoryLogReader(const std::string& path, bool swmr)
    : file_(std::make_unique<File>()), path_(path) {
  h5::QuietErrors quiet;
  if (!std::filesystem::exists(path))
    Fail(ErrorCode::kNotFound, "trajectory log '", path, "' does not exist");
  if (H5Fis_hdf5(path.c_str()) <= 0) Fail(ErrorCode::kInvalidArgument, path, ": not an HDF5 file");
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY | (swmr ? H5F_ACC_SWMR_READ : 0), H5P_DEFAULT);
  // A writer that died (SIGKILL, power loss) leaves the "open for SWMR writing" flag set; HDF5 then
  // refuses plain opens but allows SWMR reads, which see everything flushed.
  if (f < 0 && !swmr) f = H5Fopen(path.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
  if (f < 0) Fail(ErrorCode::kDataLoss, path, ": HDF5 cannot open it (truncated or corrupted?)");
  File& F = *file_;
  F.file = Handle(f, H5Fclose);
  std::string version = ReadStringAttr(f, "schema_version", path);
  if (version.empty() || H5Lexists(f, "steps", H5P_DEFAULT) <= 0)
    Fail(ErrorCode::kInvalidArgument, path,
         ": not an iranker trajectory log (no schema_version or /steps)");
  // Version 1 logs lack StepRecord::alternatives (added in 2); their rows read it as empty.
  std::set<std::string> absent;
  if (version == "1")
    absent = {"alternatives"};
  else if (version != std::to_string(kTrajlogSchemaVersion))
    Fail(ErrorCode::kInvalidArgument, path, ": schema version ", version,
         " is not supported (this build reads 1 and ", kTrajlogSchemaVersion, ")");
  try {
    F.steps = Handle(IR_H5(H5Gopen2(f, "steps", H5P_DEFAULT), path), H5Gclose);
    F.episodes = Handle(IR_H5(H5Gopen2(f, "episodes", H5P_DEFAULT), path), H5Gclose);
    F.step_columns.Open(F.steps.get(), path, absent);
    F.episode_columns.Open(F.episodes.get(), path);
  } catch (const Error& e) {
    Fail(ErrorCode::kInvalidArgument, path, ": malformed trajectory log: ", e.what());
  }
}

TrajectoryLogReader::~TrajectoryLogReader() = default;

void TrajectoryLogReader::Refresh() {
  file_->step_columns.Refresh();
  file_->episode_columns.Refresh();
}

int64_t TrajectoryLogReader::num_steps() const { return file_->step_columns.Rows(); }

int64_t TrajectoryLogReader::num_episodes() const { return file_->episode_columns.Rows(); }

std::vector<StepRecord> TrajectoryLogReader::ReadSteps(int64_t begin, int64_t end) const {
  return file_->step_columns.Read(begin, std::min(end, num_steps()), path_);
}

std::vector<EpisodeSummary> TrajectoryLogReader::ReadEpisodes(int64_t begin, int64_t end) const {
  return file_->episode_columns.Read(begin, std::min(end, num_episodes()), path_);
}

std::vector<uint64_t> TrajectoryLogReader::StepPolicyVersions() const {
  std::vector<uint64_t> v;
  file_->step_columns.column("policy_version").Read(0, num_steps(), H5T_NATIVE_UINT64, &v);
  return v;
}

std::vector<uint64_t> TrajectoryLogReader::EpisodePolicyVersions() const {
  std::vector<uint64_t> v;
  file_->episode_columns.column("policy_version").Read(0, num_episodes(), H5T_NATIVE_UINT64, &v);
  return v;
}

std::string TrajectoryLogReader::Attribute(const std::string& name) const {
  h5::QuietErrors quiet;
  return ReadStringAttr(file_->file.get(), name, path_);
}

}  // namespace iranker
