// TempDir: a fresh directory under $TMPDIR (or /tmp) for one test, removed with everything in
// it when the object goes away. Not thread-safe.
#pragma once

#include <string>

namespace ember::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }
  // Writes `content` to Sub(name), replacing it; returns the full path.
  std::string Write(const std::string& name, const std::string& content) const;
  // Replaces Sub(name) as certbot or an editor does: a new file renamed over it (so the file
  // is another inode, whatever the clock's grain). Returns the full path.
  std::string Replace(const std::string& name, const std::string& content) const;
  // Appends `content` to Sub(name) and flushes it to the file.
  void Append(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

// The whole file, or "" if it cannot be read.
std::string ReadFile(const std::string& path);

}  // namespace ember::test
