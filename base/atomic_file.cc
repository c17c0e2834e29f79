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

AtomicFileWriter::AtomicFileWriter(const std::string& path)
    : path_(path), tmp_(path + ".tmp." + std::to_string(::getpid())) {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) FailErrno("cannot create", tmp_, errno);
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFileWriter::Write(const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (error_ == 0 && size > 0) {
    ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno != EINTR) error_ = errno;
      continue;
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void AtomicFileWriter::Commit() {
  if (error_ != 0) FailErrno("cannot write", tmp_, error_);
  if (::fsync(fd_) != 0) FailErrno("fsync failed for", tmp_, errno);
  ::close(fd_);
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0)
    FailErrno("cannot rename into place", path_, errno);
  committed_ = true;
  FsyncPath(ParentOf(path_));
}

void WriteFileAtomic(const std::string& path, std::string_view contents) {
  AtomicFileWriter w(path);
  w.Write(contents.data(), contents.size());
  w.Commit();
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
  if (ec)
    Fail(ErrorCode::kFailedPrecondition, "cannot create directory '", path, "': ", ec.message());
}

}  // namespace iranker
