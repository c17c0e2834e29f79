#include "base/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/error.h"

namespace iranker {
namespace fs = std::filesystem;
namespace {

[[noreturn]] void FailErrno(const std::string& what, const std::string& path, int err) {
  ErrorCode code = ErrorCode::kInternal;
  if (err == ENOSPC || err == EFBIG || err == EDQUOT) code = ErrorCode::kResourceExhausted;
  if (err == EACCES || err == EPERM || err == EROFS) code = ErrorCode::kFailedPrecondition;
  if (err == ENOENT) code = ErrorCode::kNotFound;
  Fail(code, what, " '", path, "': ", std::strerror(err));
}

std::string ParentOf(const std::string& path) {
  fs::path p(path);
  auto parent = p.parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}
}  // namespace

void FsyncPath(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) FailErrno("cannot open for fsync", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  // Some file systems refuse fsync on directories (EINVAL); that is not a data-loss risk.
  if (rc != 0 && err != EINVAL) FailErrno("fsync failed for", path, err);
}

void WriteFileAtomic(const std::string& path, std::string_view contents) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) FailErrno("cannot create", tmp, errno);
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      FailErrno("cannot write", tmp, err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    FailErrno("fsync failed for", tmp, err);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    FailErrno("cannot rename into place", path, err);
  }
  FsyncPath(ParentOf(path));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!fs::exists(path)) Fail(ErrorCode::kNotFound, "no such file '", path, "'");
    Fail(ErrorCode::kFailedPrecondition, "cannot read '", path, "'");
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void CommitDirectory(const std::string& tmp_dir, const std::string& final_dir) {
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(tmp_dir, ec)) {
    if (entry.is_regular_file()) FsyncPath(entry.path().string());
  }
  if (ec) Fail(ErrorCode::kInternal, "cannot list '", tmp_dir, "': ", ec.message());
  FsyncPath(tmp_dir);
  if (fs::exists(final_dir)) {
    Fail(ErrorCode::kFailedPrecondition, "refusing to overwrite existing directory '", final_dir,
         "'");
  }
  if (::rename(tmp_dir.c_str(), final_dir.c_str()) != 0)
    FailErrno("cannot rename directory into place", final_dir, errno);
  FsyncPath(ParentOf(final_dir));
}

void MakeDirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) Fail(ErrorCode::kFailedPrecondition, "cannot create directory '", path, "': ", ec.message());
}

}  // namespace iranker
