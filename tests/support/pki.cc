#include "tests/support/pki.h"

#include "tests/support/process.h"

namespace ember::test {

bool MakeTestPki(const std::string& dir) {
  const std::string script =
      "set -e; mkdir -p " + dir + "; cd " + dir +
      "; openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key "
      "-out ca.pem 2>/dev/null"
      "; openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca -keyout other.key "
      "-out other.pem 2>/dev/null"
      "; openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out "
      "server.csr 2>/dev/null"
      "; printf 'subjectAltName=DNS:localhost\\n' > san.ext"
      "; openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
      "-extfile san.ext -out server.pem 2>/dev/null"
      "; openssl req -newkey rsa:2048 -nodes -subj /O=renewed/CN=localhost -keyout renewed.key "
      "-out renewed.csr 2>/dev/null"
      "; openssl x509 -req -in renewed.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
      "-extfile san.ext -out renewed.pem 2>/dev/null"
      "; openssl req -newkey rsa:2048 -nodes -subj /CN=ember -keyout client.key -out client.csr "
      "2>/dev/null"
      "; openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
      "-out client.pem 2>/dev/null";
  return RunCommand({"sh", "-c", script}).exit_code == 0;
}

}  // namespace ember::test
