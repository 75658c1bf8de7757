// Loading modules: the TLS module of this build loads and carries this build's ABI tag; a
// missing file or a shared object that is not an ember module is a clear error.
#include "common/module_loader.h"

#include <dlfcn.h>

#include <catch2/catch.hpp>
#include <zmq.h>

#include "tests/support/temp_dir.h"

using namespace ember;

TEST_CASE("LoadModule: this build's TLS module loads, missing or foreign files are errors",
          "[common][http][unit]") {
  const std::string path = ModulePath("ember-agent", "ember-https.so");
  CHECK(path == std::string(EMBER_BINARY_DIR) + "/common/ember-https.so");
  auto module = LoadModule(path);
  INFO(module.status().ToString());
  REQUIRE(module.ok());
  auto entry = module->Symbol("ember_https_start");
  CHECK(entry.ok());
  // Only the two entry points are exported.
  CHECK_FALSE(module
                  ->Symbol("_ZN5ember16StartBeastServerERKNS_17HttpServerOptionsESt8functionIFNS_"
                           "12HttpResponseERKNS_11HttpRequestEEE")
                  .ok());

  test::TempDir dir;
  auto missing = LoadModule(dir.Sub("nothing.so"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message().find(dir.Sub("nothing.so")) != std::string::npos);
  auto garbage = LoadModule(dir.Write("garbage.so", "not an ELF file\n"));
  REQUIRE_FALSE(garbage.ok());
  CHECK(garbage.status().message().find("cannot load module") != std::string::npos);
  // A real shared object that is not an ember module: libzmq, already loaded.
  Dl_info zmq{};
  REQUIRE(::dladdr(reinterpret_cast<void*>(&zmq_version), &zmq) != 0);
  auto foreign = LoadModule(zmq.dli_fname);
  REQUIRE_FALSE(foreign.ok());
  CHECK(foreign.status().message().find("is not an ember module") != std::string::npos);
}
