// The TLS module (ember-https.so): the HTTP server built with TLS, and OpenSSL behind it,
// loaded by HttpServer::Start only when a web configuration has tls_server_config.
#include "common/beast_server.h"
#include "common/module_loader.h"

#define EMBER_EXPORT extern "C" __attribute__((visibility("default")))

EMBER_EXPORT const char* ember_module_abi() { return ember::kModuleAbi; }

// Starts the server; null with *error set when it cannot. The caller owns the result.
EMBER_EXPORT ember::HttpServer* ember_https_start(const ember::HttpServerOptions* options,
                                                  ember::HttpServer::Handler* handler,
                                                  ember::Status* error) {
  auto server = ember::StartBeastServer(*options, std::move(*handler));
  if (!server.ok()) {
    *error = server.status();
    return nullptr;
  }
  return server->release();
}
