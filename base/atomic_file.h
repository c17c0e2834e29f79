// base/atomic_file.h — files and directories that are either complete or absent.
//
// WriteFileAtomic writes to "<path>.tmp.<pid>", fsyncs it, renames it over <path> and fsyncs the
// parent directory, so a crash at any moment leaves either the old file or the new one.
// CommitDirectory does the same for a directory filled under a temporary name (checkpoints).
// All functions throw iranker::Error naming the path on failure (kResourceExhausted for ENOSPC
// and EFBIG, kFailedPrecondition for permissions, kInternal otherwise).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace iranker {

void WriteFileAtomic(const std::string& path, std::string_view contents);

// The same for contents produced piecewise (a serializer's sink): Write() appends to
// "<path>.tmp.<pid>" and never throws, remembering the first error, so that it can feed a
// library writer that must not fail mid-stream (libtorch's zip writer aborts the process when its
// sink throws or writes short); Commit() then fsyncs and renames, or throws that error naming the
// file. Destroyed without a successful Commit(), it removes the temporary file.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(const std::string& path);  // throws when the file cannot be created
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void Write(const void* data, size_t size);  // no-op after the first error
  void Commit();

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  int error_ = 0;
  bool committed_ = false;
};

// Reads a whole file; kNotFound if it does not exist.
std::string ReadFile(const std::string& path);

// fsyncs every regular file below `tmp_dir`, then the directory, renames it to `final_dir`
// (which must not exist) and fsyncs the parent.
void CommitDirectory(const std::string& tmp_dir, const std::string& final_dir);

// fsync of a file or directory by path.
void FsyncPath(const std::string& path);

// Creates a directory and its parents; no error when it exists.
void MakeDirs(const std::string& path);

}  // namespace iranker
