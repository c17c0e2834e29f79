#include "trajlog/trajlog.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <type_traits>

#include "base/error.h"
#include "base/log.h"
#include "ranking/rng.h"
#include "trajlog/column.h"

namespace iranker {
using h5::Column;
using h5::Handle;

// Per-row scalar columns, declared once: (field, C++ type, HDF5 native type).
#define IR_STEP_SCALARS(X)                       \
  X(episode_id, uint64_t, H5T_NATIVE_UINT64)     \
  X(step, int32_t, H5T_NATIVE_INT32)             \
  X(pool_size, int32_t, H5T_NATIVE_INT32)        \
  X(actor_id, int32_t, H5T_NATIVE_INT32)         \
  X(policy_version, uint64_t, H5T_NATIVE_UINT64) \
  X(seed, uint64_t, H5T_NATIVE_UINT64)           \
  X(group_id, uint64_t, H5T_NATIVE_UINT64)       \
  X(reward, float, H5T_NATIVE_FLOAT)             \
  X(reward_answer, float, H5T_NATIVE_FLOAT)      \
  X(reward_format, float, H5T_NATIVE_FLOAT)      \
  X(reward_tags, float, H5T_NATIVE_FLOAT)        \
  X(chosen, int32_t, H5T_NATIVE_INT32)           \
  X(valid_format, uint8_t, H5T_NATIVE_UINT8)     \
  X(episode_done, uint8_t, H5T_NATIVE_UINT8)

#define IR_EPISODE_SCALARS(X)                    \
  X(episode_id, uint64_t, H5T_NATIVE_UINT64)     \
  X(actor_id, int32_t, H5T_NATIVE_INT32)         \
  X(policy_version, uint64_t, H5T_NATIVE_UINT64) \
  X(mrr, float, H5T_NATIVE_FLOAT)                \
  X(ndcg10, float, H5T_NATIVE_FLOAT)             \
  X(hit1, float, H5T_NATIVE_FLOAT)               \
  X(num_steps, int32_t, H5T_NATIVE_INT32)        \
  X(fallbacks, int32_t, H5T_NATIVE_INT32)

// Ragged columns: (name of the flat data, name of its end offsets).
namespace {
struct Ragged {
  Column data, end;
  uint64_t total = 0;  // elements in data (writer side)
};

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
}  // namespace

struct TrajectoryLogWriter::File {
  Handle file, steps, episodes;
#define IR_DECL(f, T, H) Column s_##f;
  IR_STEP_SCALARS(IR_DECL)
#undef IR_DECL
#define IR_DECL(f, T, H) Column e_##f;
  IR_EPISODE_SCALARS(IR_DECL)
#undef IR_DECL
  Ragged prompt, response, answer, query, dataset;  // steps
  Column logprobs;                                  // shares response offsets
  Ragged e_ranking, e_query, e_dataset;             // episodes
  std::chrono::steady_clock::time_point last_flush = std::chrono::steady_clock::now();
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
  const hsize_t rows = o.chunk_rows, toks = o.chunk_tokens;
  const int z = o.deflate;
#define IR_MAKE(f, T, H) F.s_##f = Column::Create(F.steps.get(), #f, H, rows, z, ctx);
  IR_STEP_SCALARS(IR_MAKE)
#undef IR_MAKE
#define IR_MAKE(f, T, H) F.e_##f = Column::Create(F.episodes.get(), #f, H, rows, z, ctx);
  IR_EPISODE_SCALARS(IR_MAKE)
#undef IR_MAKE
  auto ragged = [&](Ragged* r, hid_t g, const char* data, const char* end, hid_t type) {
    r->data = Column::Create(g, data, type, toks, z, ctx);
    r->end = Column::Create(g, end, H5T_NATIVE_UINT64, rows, z, ctx);
  };
  ragged(&F.prompt, F.steps.get(), "prompt_ids", "prompt_end", H5T_NATIVE_INT32);
  ragged(&F.response, F.steps.get(), "response_ids", "response_end", H5T_NATIVE_INT32);
  F.logprobs = Column::Create(F.steps.get(), "logprobs", H5T_NATIVE_FLOAT, toks, z, ctx);
  ragged(&F.answer, F.steps.get(), "answer_text", "answer_end", H5T_NATIVE_UINT8);
  ragged(&F.query, F.steps.get(), "query_id", "query_end", H5T_NATIVE_UINT8);
  ragged(&F.dataset, F.steps.get(), "dataset", "dataset_end", H5T_NATIVE_UINT8);
  ragged(&F.e_ranking, F.episodes.get(), "ranking", "ranking_end", H5T_NATIVE_INT32);
  ragged(&F.e_query, F.episodes.get(), "query_id", "query_end", H5T_NATIVE_UINT8);
  ragged(&F.e_dataset, F.episodes.get(), "dataset", "dataset_end", H5T_NATIVE_UINT8);
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
  std::lock_guard<std::mutex> l(mu_);
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
  const auto t0 = std::chrono::steady_clock::now();
  while (true) {
    auto r = queue_.Push(batch, std::chrono::milliseconds(200));
    if (r == QueueResult::kOk) break;
    if (r == QueueResult::kClosed) {
      ThrowIfFailed();
      Fail(ErrorCode::kFailedPrecondition, "trajectory log '", path_, "' is closed");
    }
    ThrowIfFailed();  // full: keep waiting unless the writer died
  }
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (waited > 1.0)
    IR_LOG_WARN(
        "trajectory log {}: the disk is not keeping up: training waited {:.1f} s for the writer "
        "(back-pressure; trajlog.sample < 1 logs a fraction of the episodes instead)",
        path_, waited);
  std::lock_guard<std::mutex> l(mu_);
  stats_.blocked_seconds += waited;
  stats_.sampled_out_steps += left_out;
}

namespace {
template <class T, class F>
std::vector<T> Gather(const std::vector<StepRecord>& v, F f) {
  std::vector<T> out;
  out.reserve(v.size());
  for (const auto& x : v) out.push_back(static_cast<T>(f(x)));
  return out;
}

// Appends the ragged values of all rows with one write, then their end offsets.
template <class Row, class Get>
int64_t AppendRagged(Ragged* r, const std::vector<Row>& rows, Get get, size_t elem_size) {
  using Elem = typename std::decay_t<decltype(get(rows.front()))>::value_type;
  std::vector<Elem> flat;
  std::vector<uint64_t> ends;
  ends.reserve(rows.size());
  for (const auto& row : rows) {
    const auto& v = get(row);
    flat.insert(flat.end(), v.begin(), v.end());
    ends.push_back(r->total + flat.size());
  }
  r->data.Append(flat.data(), flat.size());
  r->total += flat.size();
  r->end.Append(ends);
  return static_cast<int64_t>(flat.size() * elem_size + ends.size() * 8);
}
}  // namespace

namespace {
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
    const auto t0 = std::chrono::steady_clock::now();
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
        int64_t bytes = 0;
        const auto& s = b.steps;
        bytes += AppendRagged(
            &F.prompt, s, [](const StepRecord& x) -> const auto& { return x.prompt_ids; }, 4);
        bytes += AppendRagged(
            &F.response, s, [](const StepRecord& x) -> const auto& { return x.response_ids; }, 4);
        {
          std::vector<float> lps;
          for (const auto& x : s) lps.insert(lps.end(), x.logprobs.begin(), x.logprobs.end());
          F.logprobs.Append(lps);
          bytes += lps.size() * 4;
        }
        bytes += AppendRagged(
            &F.answer, s, [](const StepRecord& x) -> const auto& { return x.answer_text; }, 1);
        bytes += AppendRagged(
            &F.query, s, [](const StepRecord& x) -> const auto& { return x.query_id; }, 1);
        bytes += AppendRagged(
            &F.dataset, s, [](const StepRecord& x) -> const auto& { return x.dataset; }, 1);
#define IR_APPEND(f, T, H)                                            \
  {                                                                   \
    auto col = Gather<T>(s, [](const StepRecord& x) { return x.f; }); \
    F.s_##f.Append(col);                                              \
    bytes += col.size() * sizeof(T);                                  \
  }
        IR_STEP_SCALARS(IR_APPEND)
#undef IR_APPEND
        const auto& e = b.episodes;
        bytes += AppendRagged(
            &F.e_ranking, e, [](const EpisodeSummary& x) -> const auto& { return x.ranking; }, 4);
        bytes += AppendRagged(
            &F.e_query, e, [](const EpisodeSummary& x) -> const auto& { return x.query_id; }, 1);
        bytes += AppendRagged(
            &F.e_dataset, e, [](const EpisodeSummary& x) -> const auto& { return x.dataset; }, 1);
#define IR_APPEND(f, T, H)                                      \
  {                                                             \
    std::vector<T> col;                                         \
    for (const auto& x : e) col.push_back(static_cast<T>(x.f)); \
    F.e_##f.Append(col);                                        \
    bytes += col.size() * sizeof(T);                            \
  }
        IR_EPISODE_SCALARS(IR_APPEND)
#undef IR_APPEND
        std::lock_guard<std::mutex> l(mu_);
        stats_.batches++;
        stats_.steps += s.size();
        stats_.episodes += e.size();
        stats_.bytes += bytes;
      }
      const auto now = std::chrono::steady_clock::now();
      if (now - F.last_flush >= std::chrono::duration<double>(options_.flush_seconds)) {
        IR_H5(H5Fflush(F.file.get(), H5F_SCOPE_GLOBAL), path_);
        F.last_flush = now;
        std::lock_guard<std::mutex> l(mu_);
        stats_.flushes++;
      }
      std::lock_guard<std::mutex> l(mu_);
      stats_.write_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } catch (const std::exception& ex) {
      {
        std::lock_guard<std::mutex> l(mu_);
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
      std::lock_guard<std::mutex> l(mu_);
      stats_.flushes++;
    }
    file_.reset();  // closes every dataset, then the file
  }
  ThrowIfFailed();
}

TrajlogStats TrajectoryLogWriter::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

// ---------------------------------------------------------------------------------------------
struct TrajectoryLogReader::File {
  Handle file, steps, episodes;
#define IR_DECL(f, T, H) Column s_##f;
  IR_STEP_SCALARS(IR_DECL)
#undef IR_DECL
#define IR_DECL(f, T, H) Column e_##f;
  IR_EPISODE_SCALARS(IR_DECL)
#undef IR_DECL
  Ragged prompt, response, answer, query, dataset, e_ranking, e_query, e_dataset;
  Column logprobs;
  std::vector<Column*> step_rows, episode_rows;  // columns with one element per row
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
  if (version != std::to_string(kTrajlogSchemaVersion))
    Fail(ErrorCode::kInvalidArgument, path, ": schema version ", version,
         " is not supported (this build reads ", kTrajlogSchemaVersion, ")");
  try {
    F.steps = Handle(IR_H5(H5Gopen2(f, "steps", H5P_DEFAULT), path), H5Gclose);
    F.episodes = Handle(IR_H5(H5Gopen2(f, "episodes", H5P_DEFAULT), path), H5Gclose);
#define IR_OPEN(c, T, H)                           \
  F.s_##c = Column::Open(F.steps.get(), #c, path); \
  F.step_rows.push_back(&F.s_##c);
    IR_STEP_SCALARS(IR_OPEN)
#undef IR_OPEN
#define IR_OPEN(c, T, H)                              \
  F.e_##c = Column::Open(F.episodes.get(), #c, path); \
  F.episode_rows.push_back(&F.e_##c);
    IR_EPISODE_SCALARS(IR_OPEN)
#undef IR_OPEN
    auto ragged = [&](Ragged* r, hid_t g, const char* data, const char* end,
                      std::vector<Column*>* rows) {
      r->data = Column::Open(g, data, path);
      r->end = Column::Open(g, end, path);
      rows->push_back(&r->end);
    };
    ragged(&F.prompt, F.steps.get(), "prompt_ids", "prompt_end", &F.step_rows);
    ragged(&F.response, F.steps.get(), "response_ids", "response_end", &F.step_rows);
    F.logprobs = Column::Open(F.steps.get(), "logprobs", path);
    ragged(&F.answer, F.steps.get(), "answer_text", "answer_end", &F.step_rows);
    ragged(&F.query, F.steps.get(), "query_id", "query_end", &F.step_rows);
    ragged(&F.dataset, F.steps.get(), "dataset", "dataset_end", &F.step_rows);
    ragged(&F.e_ranking, F.episodes.get(), "ranking", "ranking_end", &F.episode_rows);
    ragged(&F.e_query, F.episodes.get(), "query_id", "query_end", &F.episode_rows);
    ragged(&F.e_dataset, F.episodes.get(), "dataset", "dataset_end", &F.episode_rows);
  } catch (const Error& e) {
    Fail(ErrorCode::kInvalidArgument, path, ": malformed trajectory log: ", e.what());
  }
}

TrajectoryLogReader::~TrajectoryLogReader() = default;

void TrajectoryLogReader::Refresh() {
  File& F = *file_;
  for (auto* c : F.step_rows) c->Refresh();
  for (auto* c : F.episode_rows) c->Refresh();
  for (auto* r : {&F.prompt, &F.response, &F.answer, &F.query, &F.dataset, &F.e_ranking, &F.e_query,
                  &F.e_dataset})
    r->data.Refresh();
  F.logprobs.Refresh();
}

int64_t TrajectoryLogReader::num_steps() const {
  hsize_t n = UINT64_MAX;
  for (auto* c : file_->step_rows) n = std::min(n, c->size());
  return static_cast<int64_t>(n);
}

int64_t TrajectoryLogReader::num_episodes() const {
  hsize_t n = UINT64_MAX;
  for (auto* c : file_->episode_rows) n = std::min(n, c->size());
  return static_cast<int64_t>(n);
}

namespace {
// Ranges of rows [begin, end) of a ragged column: returns the flat slice and per-row ends.
template <class T>
void ReadRagged(const Ragged& r, int64_t begin, int64_t end, hid_t type, std::vector<T>* flat,
                std::vector<uint64_t>* starts, std::vector<uint64_t>* stops,
                const std::string& path) {
  std::vector<uint64_t> ends;
  const int64_t lo = std::max<int64_t>(0, begin - 1);
  r.end.Read(lo, end - lo, H5T_NATIVE_UINT64, &ends);
  uint64_t first = begin == 0 ? 0 : ends[0];
  uint64_t last = ends.empty() ? 0 : ends.back();
  if (last < first || last > r.data.size())
    Fail(ErrorCode::kDataLoss, path, ": ragged column offsets exceed its data (corrupted file?)");
  r.data.Read(first, last - first, type, flat);
  starts->clear();
  stops->clear();
  uint64_t prev = first;
  for (size_t i = (begin == 0 ? 0 : 1); i < ends.size(); ++i) {
    if (ends[i] < prev)
      Fail(ErrorCode::kDataLoss, path, ": ragged column offsets decrease (corrupted file?)");
    starts->push_back(prev - first);
    stops->push_back(ends[i] - first);
    prev = ends[i];
  }
}
}  // namespace

std::vector<StepRecord> TrajectoryLogReader::ReadSteps(int64_t begin, int64_t end) const {
  const File& F = *file_;
  end = std::min(end, num_steps());
  std::vector<StepRecord> out;
  if (begin >= end) return out;
  const int64_t n = end - begin;
  out.resize(n);
#define IR_READ(f, T, H)                               \
  {                                                    \
    std::vector<T> col;                                \
    F.s_##f.Read(begin, n, H, &col);                   \
    for (int64_t i = 0; i < n; ++i) out[i].f = col[i]; \
  }
  IR_STEP_SCALARS(IR_READ)
#undef IR_READ
  std::vector<uint64_t> a, b;
  std::vector<int32_t> ints;
  ReadRagged(F.prompt, begin, end, H5T_NATIVE_INT32, &ints, &a, &b, path_);
  for (int64_t i = 0; i < n; ++i)
    out[i].prompt_ids.assign(ints.begin() + a[i], ints.begin() + b[i]);
  ReadRagged(F.response, begin, end, H5T_NATIVE_INT32, &ints, &a, &b, path_);
  std::vector<float> lps;
  {
    // logprobs share the response offsets.
    std::vector<uint64_t> ends;
    const int64_t lo = std::max<int64_t>(0, begin - 1);
    F.response.end.Read(lo, end - lo, H5T_NATIVE_UINT64, &ends);
    uint64_t first = begin == 0 ? 0 : ends[0];
    if (ends.back() > F.logprobs.size())
      Fail(ErrorCode::kDataLoss, path_, ": logprobs shorter than responses");
    F.logprobs.Read(first, ends.back() - first, H5T_NATIVE_FLOAT, &lps);
  }
  for (int64_t i = 0; i < n; ++i) {
    out[i].response_ids.assign(ints.begin() + a[i], ints.begin() + b[i]);
    out[i].logprobs.assign(lps.begin() + a[i], lps.begin() + b[i]);
  }
  std::vector<uint8_t> chars;
  auto strings = [&](const Ragged& r, std::string StepRecord::*field) {
    ReadRagged(r, begin, end, H5T_NATIVE_UINT8, &chars, &a, &b, path_);
    for (int64_t i = 0; i < n; ++i)
      (out[i].*field).assign(chars.begin() + a[i], chars.begin() + b[i]);
  };
  strings(F.answer, &StepRecord::answer_text);
  strings(F.query, &StepRecord::query_id);
  strings(F.dataset, &StepRecord::dataset);
  return out;
}

std::vector<EpisodeSummary> TrajectoryLogReader::ReadEpisodes(int64_t begin, int64_t end) const {
  const File& F = *file_;
  end = std::min(end, num_episodes());
  std::vector<EpisodeSummary> out;
  if (begin >= end) return out;
  const int64_t n = end - begin;
  out.resize(n);
#define IR_READ(f, T, H)                               \
  {                                                    \
    std::vector<T> col;                                \
    F.e_##f.Read(begin, n, H, &col);                   \
    for (int64_t i = 0; i < n; ++i) out[i].f = col[i]; \
  }
  IR_EPISODE_SCALARS(IR_READ)
#undef IR_READ
  std::vector<uint64_t> a, b;
  std::vector<int32_t> ints;
  ReadRagged(F.e_ranking, begin, end, H5T_NATIVE_INT32, &ints, &a, &b, path_);
  for (int64_t i = 0; i < n; ++i) out[i].ranking.assign(ints.begin() + a[i], ints.begin() + b[i]);
  std::vector<uint8_t> chars;
  auto strings = [&](const Ragged& r, std::string EpisodeSummary::*field) {
    ReadRagged(r, begin, end, H5T_NATIVE_UINT8, &chars, &a, &b, path_);
    for (int64_t i = 0; i < n; ++i)
      (out[i].*field).assign(chars.begin() + a[i], chars.begin() + b[i]);
  };
  strings(F.e_query, &EpisodeSummary::query_id);
  strings(F.e_dataset, &EpisodeSummary::dataset);
  return out;
}

std::vector<uint64_t> TrajectoryLogReader::StepPolicyVersions() const {
  std::vector<uint64_t> v;
  file_->s_policy_version.Read(0, num_steps(), H5T_NATIVE_UINT64, &v);
  return v;
}

std::vector<uint64_t> TrajectoryLogReader::EpisodePolicyVersions() const {
  std::vector<uint64_t> v;
  file_->e_policy_version.Read(0, num_episodes(), H5T_NATIVE_UINT64, &v);
  return v;
}

std::string TrajectoryLogReader::Attribute(const std::string& name) const {
  h5::QuietErrors quiet;
  return ReadStringAttr(file_->file.get(), name, path_);
}

}  // namespace iranker
