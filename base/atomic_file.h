// base/atomic_file.h — files and directories that are either complete or absent.
//
// WriteFileAtomic writes to "<path>.tmp.<pid>", fsyncs it, renames it over <path> and fsyncs the
// parent directory, so a crash at any moment leaves either the old file or the new one.
// CommitDirectory does the same for a directory filled under a temporary name (checkpoints).
// All functions throw iranker::Error naming the path on failure (kResourceExhausted for ENOSPC
// and EFBIG, kFailedPrecondition for permissions, kInternal otherwise).
#pragma once

#include <string>
#include <string_view>

namespace iranker {

void WriteFileAtomic(const std::string& path, std::string_view contents);

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
