// CURVE key pairs for agent <-> aggregator encryption and authentication, as `ember keygen`
// writes them and the daemons read them. Keys are Z85 text (40 characters). Pure functions
// over files; thread-safe.
//
// A key file (secret; mode 0600):        A public key file (shareable):
//   # ember CURVE key pair ...              # ember CURVE public key ...
//   public: <40 characters of Z85>          <40 characters of Z85>
//   secret: <40 characters of Z85>
#pragma once

#include <map>
#include <set>
#include <string>

#include "common/status.h"

namespace ember {

struct CurveKeyPair {
  std::string public_z85;
  std::string secret_z85;
};

// A fresh key pair from libzmq (libsodium). Errors: Unavailable if libzmq lacks CURVE.
Result<CurveKeyPair> GenerateCurveKeyPair();

// Writes <prefix>.key (0600) and <prefix>.pub (0644). Refuses to overwrite an existing file.
Status WriteCurveKeyFiles(const std::string& prefix, const CurveKeyPair& keys);

// Reads a key file. Errors name the file and line: missing, unreadable, malformed key, or a
// secret key whose public half does not match.
Result<CurveKeyPair> ReadCurveKeyFile(const std::string& path);

// Reads a public key: a .pub file, a key file, or the 40-character key itself (an existing
// file of that name wins).
Result<std::string> ReadCurvePublicKey(const std::string& path_or_key);

// Every *.pub file in `dir`: public key -> name (file name without .pub). Errors name the
// first bad file.
Result<std::map<std::string, std::string>> ReadAuthorizedKeys(const std::string& dir);

// The hosts each authorized key may speak for: its own name, and the lines of an optional
// `<name>.hosts` file beside its `.pub` (one host per line, `#` comments; at most 4 MiB).
// Errors name the file that cannot be read.
Result<std::map<std::string, std::set<std::string>>> ReadAuthorizedHosts(
    const std::string& dir, const std::map<std::string, std::string>& keys);

// Whether `key` is 40 characters of valid Z85 for a 32-byte key.
bool IsZ85Key(const std::string& key);

}  // namespace ember
