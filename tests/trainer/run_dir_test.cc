// The run directory's checkpoint bookkeeping: what counts as the newest checkpoint after a crash
// mid-save, and what pruning keeps.
#include "trainer/run_dir.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace iranker {
namespace {

namespace fs = std::filesystem;

class RunDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("iranker-run-dir-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "checkpoints");
  }
  void TearDown() override { fs::remove_all(dir_); }
  // A checkpoint directory holding the named files.
  fs::path Make(const std::string& name, bool with_state) {
    fs::path p = dir_ / "checkpoints" / name;
    fs::create_directories(p);
    std::ofstream(p / "model.safetensors") << "x";
    if (with_state) std::ofstream(p / "trainer_state.json") << "{}";
    return p;
  }
  fs::path dir_;
};

TEST_F(RunDirTest, NoCheckpointIsEmpty) {
  EXPECT_EQ(LatestCheckpoint(dir_.string()), "");
  EXPECT_EQ(LatestCheckpoint((dir_ / "missing").string()), "");
}

TEST_F(RunDirTest, CheckpointDirNamesSortByStep) {
  EXPECT_EQ(CheckpointDir("r", 7), "r/checkpoints/step-00000007");
  EXPECT_LT(CheckpointDir("r", 99), CheckpointDir("r", 100));
}

TEST_F(RunDirTest, PartialSavesAreNeverTheLatest) {
  Make("step-00000002", true);
  // A learner killed mid-save leaves its temporary directory, even one holding a trainer state.
  Make("step-00000004.tmp-12345", true);
  // A directory without trainer_state.json is not complete (the state is written last).
  Make("step-00000006", false);
  EXPECT_EQ(LatestCheckpoint(dir_.string()), (dir_ / "checkpoints/step-00000002").string());
}

TEST_F(RunDirTest, PruneKeepsTheNewestAndRemovesTemporaries) {
  for (int s : {2, 4, 6, 8}) Make(fs::path(CheckpointDir("r", s)).filename(), true);
  Make("step-00000010.tmp-999", false);
  PruneCheckpoints(dir_.string(), 2);
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir_ / "checkpoints"))
    left.push_back(e.path().filename());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"step-00000006", "step-00000008"}));
  EXPECT_EQ(LatestCheckpoint(dir_.string()), (dir_ / "checkpoints/step-00000008").string());
}

}  // namespace
}  // namespace iranker
