// Whole-file replacement: write a temporary file beside the target, then rename it over the
// target, so a reader (or a crash) sees the old file or the new one, never a torn one.
// Thread-safe as far as the file system is.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "common/status.h"

namespace ember {

// Reads until `size` bytes or the end of the file, again after EINTR. Returns the bytes read
// (fewer than `size` at the end of the file, or at an error, when errno tells it).
size_t ReadFully(int fd, char* data, size_t size);
// Writes all `size` bytes, again after EINTR and short writes. Returns 0, or the errno of the
// failed write.
int WriteFully(int fd, const char* data, size_t size);

// Replaces <dir>/<name> with `content`. With `durable`, the data and the rename are fsynced
// before it returns (offsets that must survive a power loss); without, a crash of the
// machine may leave the old content (status files). Errors: IOError naming the file.
Status ReplaceFile(const std::string& dir, const std::string& name, const std::string& content,
                   bool durable);

// Renames `path` to "<path>.<tag>-<UTC time>" (a number is added if that exists) and returns
// the new name, or "" when `path` does not exist. Errors: IOError naming both paths.
Result<std::string> MoveAside(const std::string& path, const std::string& tag);

// The first line of a secret file (a token, a password), without its line end or trailing
// blanks. The file must be regular and at most 64 KiB. Errors: InvalidArgument naming it.
Result<std::string> ReadSecretLine(const std::string& path);

}  // namespace ember
