// A throwaway PKI made with the openssl command in a test's directory: for TLS tests of the
// HTTP client and server.
#pragma once

#include <string>

namespace ember::test {

// In `dir`: ca.pem/ca.key (the CA), server.pem/server.key (for "localhost" only, not 127.0.0.1),
// renewed.pem/renewed.key (the same name, O=renewed, another key: a renewal),
// client.pem/client.key (CN=ember, signed by the CA), other.pem (a CA that signed nothing
// here). Returns false if openssl failed.
bool MakeTestPki(const std::string& dir);

}  // namespace ember::test
