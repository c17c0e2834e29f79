#include "trajlog/trajlog.h"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <thread>

#include "base/error.h"

namespace iranker {
namespace {
namespace fs = std::filesystem;

std::string TempDir() {
  auto d =
      fs::temp_directory_path() / ("iranker_trajlog_" + std::to_string(::getpid()) + "_" +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

// Deterministic content: batch b has 3 + b % 3 steps and one episode.
TrajectoryBatch MakeBatch(int b) {
  TrajectoryBatch t;
  t.actor_id = b % 2;
  t.batch_seq = b;
  const int n = 3 + b % 3;
  for (int i = 0; i < n; ++i) {
    StepRecord s;
    s.episode_id = 1000 + b;
    s.step = i;
    s.pool_size = 20 - i;
    s.query_id = "q" + std::to_string(b);
    s.dataset = b % 2 ? "rec" : "passage";
    s.actor_id = t.actor_id;
    s.policy_version = b / 2;
    s.seed = 77ull * b + i;
    s.group_id = 5ull * b;
    for (int k = 0; k < 50 + b + i; ++k) s.prompt_ids.push_back((k * 7 + b) % 300);
    for (int k = 0; k < 1 + i; ++k)
      s.response_ids.push_back(k + b), s.logprobs.push_back(-0.5f * k - b * 0.01f);
    if (i % 2 == 1) s.alternatives = {1, 40 + b, 2, 41, 42 + i};
    s.reward = i == 2 ? -0.5f : 1.0f;
    s.reward_answer = s.reward;
    s.reward_format = 0;
    s.reward_tags = -0.25f * (i % 2);
    s.answer_text = "answer " + std::to_string(i) + (b % 3 ? "" : " with ünïcode");
    s.chosen = i;
    s.valid_format = i % 2 == 0;
    s.episode_done = i == n - 1;
    t.steps.push_back(s);
  }
  EpisodeSummary e;
  e.episode_id = 1000 + b;
  e.query_id = "q" + std::to_string(b);
  e.dataset = b % 2 ? "rec" : "passage";
  e.actor_id = t.actor_id;
  e.policy_version = b / 2;
  e.ranking = {3, 1, 2, 0};
  e.mrr = 0.5f;
  e.ndcg10 = 0.63f;
  e.hit1 = 0;
  e.num_steps = n;
  e.fallbacks = b % 2;
  t.episodes.push_back(e);
  return t;
}

void ExpectSameStep(const StepRecord& a, const StepRecord& b) {
  EXPECT_EQ(a.episode_id, b.episode_id);
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.pool_size, b.pool_size);
  EXPECT_EQ(a.query_id, b.query_id);
  EXPECT_EQ(a.dataset, b.dataset);
  EXPECT_EQ(a.actor_id, b.actor_id);
  EXPECT_EQ(a.policy_version, b.policy_version);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.group_id, b.group_id);
  EXPECT_EQ(a.prompt_ids, b.prompt_ids);
  EXPECT_EQ(a.response_ids, b.response_ids);
  EXPECT_EQ(a.logprobs, b.logprobs);
  EXPECT_EQ(a.alternatives, b.alternatives);
  EXPECT_EQ(a.reward, b.reward);
  EXPECT_EQ(a.reward_answer, b.reward_answer);
  EXPECT_EQ(a.reward_format, b.reward_format);
  EXPECT_EQ(a.reward_tags, b.reward_tags);
  EXPECT_EQ(a.answer_text, b.answer_text);
  EXPECT_EQ(a.chosen, b.chosen);
  EXPECT_EQ(a.valid_format, b.valid_format);
  EXPECT_EQ(a.episode_done, b.episode_done);
}

// Checks that the first `batches` batches read back from the file exactly.
void ExpectBatches(const TrajectoryLogReader& r, int batches) {
  std::vector<StepRecord> want;
  std::vector<EpisodeSummary> want_e;
  for (int b = 0; b < batches; ++b) {
    auto t = MakeBatch(b);
    want.insert(want.end(), t.steps.begin(), t.steps.end());
    want_e.insert(want_e.end(), t.episodes.begin(), t.episodes.end());
  }
  ASSERT_GE(r.num_steps(), int64_t(want.size()));
  auto got = r.ReadSteps(0, want.size());
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) ExpectSameStep(got[i], want[i]);
  auto eps = r.ReadEpisodes(0, want_e.size());
  ASSERT_EQ(eps.size(), want_e.size());
  for (size_t i = 0; i < want_e.size(); ++i) {
    EXPECT_EQ(eps[i].episode_id, want_e[i].episode_id);
    EXPECT_EQ(eps[i].ranking, want_e[i].ranking);
    EXPECT_EQ(eps[i].query_id, want_e[i].query_id);
    EXPECT_EQ(eps[i].dataset, want_e[i].dataset);
    EXPECT_FLOAT_EQ(eps[i].ndcg10, want_e[i].ndcg10);
    EXPECT_EQ(eps[i].num_steps, want_e[i].num_steps);
  }
}

// A log of schema version 1 (before StepRecord::alternatives) still reads: every other field as
// written, alternatives empty. Made here by writing a log and taking the column out again.
TEST(Trajlog, VersionOneLogsStillRead) {
  auto dir = TempDir();
  const std::string path = dir + "/v1.h5";
  {
    TrajectoryLogWriter w(path, TrajlogOptions(), {{"config", "run: {}\n"}});
    for (int b = 0; b < 3; ++b) w.Append(MakeBatch(b));
    w.Close();
  }
  {
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    ASSERT_GE(H5Ldelete(f, "steps/alternatives", H5P_DEFAULT), 0);
    ASSERT_GE(H5Ldelete(f, "steps/alternatives_end", H5P_DEFAULT), 0);
    ASSERT_GE(H5Adelete(f, "schema_version"), 0);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 1);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "schema_version", t, space, H5P_DEFAULT, H5P_DEFAULT);
    ASSERT_GE(H5Awrite(a, t, "1"), 0);
    H5Aclose(a), H5Sclose(space), H5Tclose(t), H5Fclose(f);
  }
  TrajectoryLogReader r(path);
  EXPECT_EQ(r.Attribute("schema_version"), "1");
  std::vector<StepRecord> want;
  for (int b = 0; b < 3; ++b)
    for (auto s : MakeBatch(b).steps) {
      s.alternatives.clear();
      want.push_back(s);
    }
  const auto got = r.ReadSteps(0, want.size());
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) ExpectSameStep(got[i], want[i]);
}

TEST(Trajlog, RoundTripOfEveryField) {
  auto dir = TempDir();
  TrajlogOptions o;
  o.chunk_rows = 4;  // several chunks even for a small file
  o.chunk_tokens = 64;
  {
    TrajectoryLogWriter w(dir + "/t.h5", o,
                          {{"config", "run:\n  seed: 1\n"}, {"model", "{\"hidden\": 64}"}});
    for (int b = 0; b < 12; ++b) w.Append(MakeBatch(b));
    w.Close();
    EXPECT_EQ(w.stats().batches, 12);
  }
  TrajectoryLogReader r(dir + "/t.h5");
  ExpectBatches(r, 12);
  EXPECT_EQ(r.num_episodes(), 12);
  EXPECT_EQ(r.Attribute("config"), "run:\n  seed: 1\n");
  EXPECT_EQ(r.Attribute("schema_version"), "2");
  EXPECT_EQ(r.Attribute("missing"), "");
  // Slices in the middle.
  auto mid = r.ReadSteps(5, 9);
  ASSERT_EQ(mid.size(), 4u);
  EXPECT_EQ(mid[0].episode_id, 1001u);  // batch 0 has 3 steps, batch 1 has 4
}

TEST(Trajlog, SamplingKeepsWholeEpisodes) {
  auto dir = TempDir();
  TrajlogOptions o;
  o.sample = 0.5;
  int64_t total_steps = 0;
  std::map<uint64_t, int> steps_of;  // episode -> steps written
  {
    TrajectoryLogWriter w(dir + "/s.h5", o, {});
    for (int b = 0; b < 200; ++b) {
      auto t = MakeBatch(b);
      total_steps += t.steps.size();
      w.Append(std::move(t));
    }
    w.Close();
    const auto st = w.stats();
    TrajectoryLogReader r(dir + "/s.h5");
    EXPECT_EQ(st.sampled_out_steps + r.num_steps(), total_steps);
    const double kept = double(r.num_episodes()) / 200;
    EXPECT_GT(kept, 0.35);
    EXPECT_LT(kept, 0.65);
    for (const auto& s : r.ReadSteps(0, r.num_steps())) {
      EXPECT_TRUE(TrajectoryLogWriter::KeepEpisode(s.episode_id, 0.5));
      ++steps_of[s.episode_id];
    }
    for (const auto& e : r.ReadEpisodes(0, r.num_episodes())) {
      EXPECT_TRUE(TrajectoryLogWriter::KeepEpisode(e.episode_id, 0.5));
      EXPECT_EQ(steps_of[e.episode_id], e.num_steps) << "episode " << e.episode_id << " was split";
    }
    EXPECT_EQ(steps_of.size(), size_t(r.num_episodes()));
  }
  // The choice depends on the episode id only, and sample = 1 keeps everything.
  EXPECT_EQ(TrajectoryLogWriter::KeepEpisode(1234, 0.3),
            TrajectoryLogWriter::KeepEpisode(1234, 0.3));
  for (uint64_t id = 0; id < 100; ++id) EXPECT_TRUE(TrajectoryLogWriter::KeepEpisode(id, 1.0));
}

TEST(Trajlog, KilledWriterLeavesFlushedRowsReadable) {
  auto dir = TempDir();
  const std::string path = dir + "/t.h5";
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    TrajlogOptions o;
    o.flush_seconds = 0;  // flush after every batch
    TrajectoryLogWriter w(path, o, {});
    for (int b = 0;; ++b) {
      w.Append(MakeBatch(b));
      while (w.stats().flushes < b + 1) std::this_thread::sleep_for(std::chrono::microseconds(200));
      int32_t done = b + 1;  // batches certainly flushed
      if (write(fds[1], &done, 4) != 4) _exit(1);
    }
  }
  close(fds[1]);
  int32_t flushed = 0, v;
  // Let it run for a while, then kill it mid-stream.
  for (int i = 0; i < 25 && read(fds[0], &v, 4) == 4; ++i) flushed = v;
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
  while (read(fds[0], &v, 4) == 4) flushed = v;
  close(fds[0]);
  ASSERT_GE(flushed, 25);
  TrajectoryLogReader r(path);
  ExpectBatches(r, flushed);
}

TEST(Trajlog, ReaderFollowsAWriterInAnotherProcess) {
  auto dir = TempDir();
  const std::string path = dir + "/t.h5";
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    TrajlogOptions o;
    o.flush_seconds = 0;
    TrajectoryLogWriter w(path, o, {});
    char c = 'x';
    if (write(fds[1], &c, 1) != 1) _exit(1);  // file exists and is in SWMR mode
    for (int b = 0; b < 40; ++b) {
      w.Append(MakeBatch(b));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    w.Close();
    _exit(0);
  }
  close(fds[1]);
  char c;
  ASSERT_EQ(read(fds[0], &c, 1), 1);
  TrajectoryLogReader r(path, /*swmr=*/true);
  int64_t seen = 0, observations = 0;
  for (int i = 0; i < 200 && seen < 40 * 3; ++i) {
    r.Refresh();
    int64_t n = r.num_steps();
    EXPECT_GE(n, seen);
    if (n > seen) {
      auto rows = r.ReadSteps(0, n);  // every visible row is whole
      EXPECT_EQ(int64_t(rows.size()), n);
      ++observations;
    }
    seen = n;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  int status;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_GE(observations, 2) << "the reader should see the file grow";
  TrajectoryLogReader done(path);
  ExpectBatches(done, 40);
}

TEST(Trajlog, FullDiskStopsCleanlyWithDataIntact) {
  auto dir = TempDir();
  const std::string path = dir + "/t.h5";
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {8 << 20, 8 << 20};  // an 8 MiB "disk"
    setrlimit(RLIMIT_FSIZE, &rl);
    TrajlogOptions o;
    o.flush_seconds = 0;
    o.deflate = 0;
    o.chunk_tokens = 4096;
    o.chunk_rows = 256;
    try {
      TrajectoryLogWriter w(path, o, {});
      for (int b = 0; b < 100000; ++b) w.Append(MakeBatch(b % 50));
      w.Close();
    } catch (const Error& e) {
      _exit(e.code() == ErrorCode::kResourceExhausted ? 42 : 43);
    }
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 42);
  TrajectoryLogReader r(path);
  EXPECT_GT(r.num_steps(), 100);
  // Everything written reads back: batches b % 50, in order.
  const int64_t n = r.num_steps();
  auto rows = r.ReadSteps(0, n);
  int64_t i = 0;
  for (int b = 0; i < n; ++b) {
    auto t = MakeBatch(b % 50);
    for (const auto& s : t.steps) {
      if (i >= n) break;
      ExpectSameStep(rows[i++], s);
    }
  }
}

TEST(Trajlog, BadPathsAreClearErrors) {
  TrajlogOptions o;
  try {
    TrajectoryLogWriter w("/nonexistent/dir/t.h5", o, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir"), std::string::npos) << e.what();
  }
  EXPECT_THROW(TrajectoryLogReader("/nonexistent/t.h5"), Error);
  auto dir = TempDir();
  std::FILE* f = std::fopen((dir + "/x.h5").c_str(), "w");
  std::fputs("not hdf5", f);
  std::fclose(f);
  try {
    TrajectoryLogReader r(dir + "/x.h5");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not an HDF5 file"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace iranker
