#include "common/module_loader.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstring>

#include <climits>

namespace ember {

Result<void*> ModuleHandle::Symbol(const std::string& name) const {
  void* address = ::dlsym(handle_, name.c_str());
  if (address == nullptr) return Status::NotFound("module has no symbol '" + name + "'");
  return address;
}

std::string ModulePath(const std::string& component, const std::string& file) {
  char exe[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  const std::string self = n > 0 ? std::string(exe, static_cast<size_t>(n)) : "";
  const std::string build_dir = EMBER_BUILD_DIR "/";
  if (self.rfind(build_dir, 0) == 0) return EMBER_MODULE_BUILD_DIR "/" + file;
  const std::string bin_dir = self.substr(0, self.rfind('/'));
  return bin_dir + "/../lib/" + component + "/" + file;
}

Result<ModuleHandle> LoadModule(const std::string& path) {
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return Status::Unavailable("cannot load module '" + path + "': " + (why ? why : "?"));
  }
  ModuleHandle module(handle);
  Result<void*> abi = module.Symbol("ember_module_abi");
  if (!abi.ok()) return Status::Unavailable("'" + path + "' is not an ember module");
  const char* tag = reinterpret_cast<const char* (*)()>(*abi)();
  if (std::strcmp(tag, kModuleAbi) != 0) {
    return Status::Unavailable("module '" + path + "' was built for '" + tag + "', not '" +
                               kModuleAbi + "': install the matching package");
  }
  return module;
}

}  // namespace ember
