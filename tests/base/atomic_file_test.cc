#include "base/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>

#include "base/error.h"

namespace iranker {
namespace {
namespace fs = std::filesystem;

std::string TempDir() {
  std::string d =
      fs::temp_directory_path() / ("iranker_af_" + std::to_string(::getpid()) + "_" +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Runs `write` in a child process whose files may not grow past `limit` bytes (SIGXFSZ ignored,
// so writes fail with EFBIG) and returns 42 when it threw kResourceExhausted naming `name`, 43
// for another error, 0 when it did not throw.
template <class Fn>
int ExitUnderFileSizeLimit(rlim_t limit, const std::string& name, Fn write) {
  pid_t pid = fork();
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {limit, limit};
    setrlimit(RLIMIT_FSIZE, &rl);
    try {
      write();
    } catch (const Error& e) {
      const bool names = std::string(e.what()).find(name) != std::string::npos;
      _exit(e.code() == ErrorCode::kResourceExhausted && names ? 42 : 43);
    }
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

size_t FilesIn(const std::string& d) {
  size_t n = 0;
  for (auto it = fs::directory_iterator(d); it != fs::directory_iterator(); ++it) ++n;
  return n;
}

TEST(AtomicFile, WriteReadAndReplace) {
  auto d = TempDir();
  WriteFileAtomic(d + "/f", "one");
  EXPECT_EQ(ReadFile(d + "/f"), "one");
  WriteFileAtomic(d + "/f", "two");
  EXPECT_EQ(ReadFile(d + "/f"), "two");
  for (const auto& e : fs::directory_iterator(d))
    EXPECT_EQ(e.path().filename(), "f") << "temporary file left behind";
}

TEST(AtomicFile, MissingFileIsNotFound) {
  try {
    ReadFile("/nonexistent/iranker/file");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/iranker/file"), std::string::npos);
  }
}

TEST(AtomicFile, FileSizeLimitKeepsOldFileIntact) {
  auto d = TempDir();
  WriteFileAtomic(d + "/f", "good");
  EXPECT_EQ(ExitUnderFileSizeLimit(1024, d + "/f",
                                   [&] { WriteFileAtomic(d + "/f", std::string(1 << 20, 'x')); }),
            42);
  EXPECT_EQ(ReadFile(d + "/f"), "good");
  EXPECT_EQ(FilesIn(d), 1u) << "temporary file left behind";
}

// A streamed writer fed by a sink that must not fail (libtorch's archive writer): every Write
// returns, the first error surfaces at Commit() naming the file, nothing partial is left and the
// old file stays.
TEST(AtomicFile, StreamedWriterReportsTheFirstErrorAtCommit) {
  auto d = TempDir();
  WriteFileAtomic(d + "/f", "good");
  EXPECT_EQ(ExitUnderFileSizeLimit(4096, d + "/f",
                                   [&] {
                                     AtomicFileWriter w(d + "/f");
                                     const std::string piece(1000, 'x');
                                     for (int i = 0; i < 50; ++i)
                                       w.Write(piece.data(),
                                               piece.size());  // past the limit: no throw
                                     w.Commit();
                                   }),
            42);
  EXPECT_EQ(ReadFile(d + "/f"), "good");
  EXPECT_EQ(FilesIn(d), 1u) << "temporary file left behind";
  {
    AtomicFileWriter w(d + "/g");
    w.Write("ab", 2);
    w.Write("cd", 2);
    w.Commit();
  }
  EXPECT_EQ(ReadFile(d + "/g"), "abcd");
  {
    AtomicFileWriter abandoned(d + "/h");
    abandoned.Write("x", 1);
  }
  EXPECT_FALSE(fs::exists(d + "/h"));
  EXPECT_EQ(FilesIn(d), 2u) << "an abandoned writer left its temporary file";
}

TEST(AtomicFile, CommitDirectoryRefusesOverwrite) {
  auto d = TempDir();
  MakeDirs(d + "/tmp");
  WriteFileAtomic(d + "/tmp/a", "x");
  CommitDirectory(d + "/tmp", d + "/final");
  EXPECT_EQ(ReadFile(d + "/final/a"), "x");
  MakeDirs(d + "/tmp2");
  EXPECT_THROW(CommitDirectory(d + "/tmp2", d + "/final"), Error);
}

}  // namespace
}  // namespace iranker
