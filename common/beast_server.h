// The HTTP server itself (Boost.Beast), as http_server.h describes it. Built twice: into the
// daemons without TLS, and with TLS (EMBER_HTTP_TLS) into the TLS module. Internal to
// HttpServer::Start and the module; not for other callers.
#pragma once

#include <memory>

#include "common/http_server.h"

namespace ember {

Result<std::unique_ptr<HttpServer>> StartBeastServer(const HttpServerOptions& options,
                                                     HttpServer::Handler handler);

}  // namespace ember
