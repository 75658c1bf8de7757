// Modules: parts of ember that only some configurations need (TLS for the HTTP endpoints) are
// shared objects loaded when configured, so a daemon without them maps none of their
// libraries. A module is found in the build tree when the running program is in it, else in
// its package's private directory beside the program's (/usr/bin/ember-agent loads
// /usr/lib/ember-agent/…); it must carry the ABI tag of this build.
// Loaded modules stay loaded.
#pragma once

#include <string>

#include "common/status.h"

namespace ember {

// The tag a module and its loader must share: version and compiler.
inline constexpr const char* kModuleAbi = EMBER_VERSION " " __VERSION__;

class ModuleHandle {
 public:
  explicit ModuleHandle(void* handle) : handle_(handle) {}
  // The address of the exported symbol `name`. Errors: NotFound naming it.
  Result<void*> Symbol(const std::string& name) const;

 private:
  void* handle_;
};

// Where `file` of `component` ("ember-agent") is: the build tree's module directory when this
// program runs from the build tree, else <bindir>/../lib/<component>/<file>.
std::string ModulePath(const std::string& component, const std::string& file);

// Loads the module at `path` (dlopen, symbols resolved now, kept local) and checks its
// `ember_module_abi()`. Errors: Unavailable naming the path and dlerror, or the ABI mismatch.
Result<ModuleHandle> LoadModule(const std::string& path);

}  // namespace ember
