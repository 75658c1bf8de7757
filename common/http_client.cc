#include "common/http_client.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <strings.h>

#include <memory>
#include <mutex>
#include <type_traits>

#include "common/file_util.h"
#include "common/yaml_util.h"

namespace ember {
namespace {

constexpr size_t kMaxReplyBytes = 64 << 20;

// libcurl, loaded at the first request: it brings its TLS, IDN, LDAP, SSH and Kerberos
// libraries, which a program that never makes a request (`ember replay`, an aggregator
// without webhooks) need not map.
constexpr const char* kCurlLibrary = "libcurl.so.4";
struct CurlApi {
  decltype(&curl_global_init) global_init;
  decltype(&curl_easy_init) easy_init;
  decltype(&curl_easy_cleanup) easy_cleanup;
  decltype(&curl_easy_setopt) easy_setopt;
  decltype(&curl_easy_perform) easy_perform;
  decltype(&curl_easy_getinfo) easy_getinfo;
  decltype(&curl_easy_strerror) easy_strerror;
  decltype(&curl_slist_append) slist_append;
  decltype(&curl_slist_free_all) slist_free_all;
};

// Loads libcurl and initializes it once; the error names the library and why.
Result<const CurlApi*> Curl() {
  static std::once_flag once;
  static CurlApi api;
  static Status failed;
  std::call_once(once, [] {
    void* lib = ::dlopen(kCurlLibrary, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (lib == nullptr) {
      const char* why = ::dlerror();
      failed = Status::Unavailable(std::string("cannot load ") + kCurlLibrary + " (" +
                                   (why != nullptr ? why : "?") + "): install libcurl4");
      return;
    }
    bool missing = false;
    auto bind = [&](auto* fn, const char* name) {
      *fn = reinterpret_cast<std::remove_pointer_t<decltype(fn)>>(::dlsym(lib, name));
      if (*fn == nullptr && !missing) {
        missing = true;
        failed = Status::Unavailable(std::string(kCurlLibrary) + " has no '" + name + "'");
      }
    };
    bind(&api.global_init, "curl_global_init");
    bind(&api.easy_init, "curl_easy_init");
    bind(&api.easy_cleanup, "curl_easy_cleanup");
    bind(&api.easy_setopt, "curl_easy_setopt");
    bind(&api.easy_perform, "curl_easy_perform");
    bind(&api.easy_getinfo, "curl_easy_getinfo");
    bind(&api.easy_strerror, "curl_easy_strerror");
    bind(&api.slist_append, "curl_slist_append");
    bind(&api.slist_free_all, "curl_slist_free_all");
    if (!missing && api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      failed = Status::Unavailable(std::string(kCurlLibrary) + ": curl_global_init failed");
    }
  });
  if (!failed.ok()) return failed;
  return &api;
}

size_t Append(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * n > kMaxReplyBytes) return 0;  // curl then fails the transfer
  body->append(data, size * n);
  return size * n;
}

std::string HostOf(const std::string& url) {
  const size_t start = url.find("://");
  if (start == std::string::npos) return url;
  const size_t end = url.find_first_of("/?#", start + 3);
  return url.substr(start + 3, end == std::string::npos ? std::string::npos : end - start - 3);
}

}  // namespace

Status CheckHttpUrl(const std::string& url) {
  const bool http = url.rfind("http://", 0) == 0, https = url.rfind("https://", 0) == 0;
  if ((!http && !https) || HostOf(url).empty()) {
    return Status::InvalidArgument("'" + url + "' is not an http:// or https:// URL with a host");
  }
  return Status::Ok();
}

Status LoadHttpClient() { return Curl().status(); }

Result<HttpReply> HttpFetch(const std::string& method, const std::string& url,
                            const std::string& body, const HttpHeaders& headers,
                            int64_t timeout_ms) {
  HttpClientOptions options;
  options.timeout_ms = timeout_ms;
  return HttpFetch(method, url, body, headers, options);
}

Result<HttpReply> HttpFetch(const std::string& method, const std::string& url,
                            const std::string& body, const HttpHeaders& headers,
                            const HttpClientOptions& options) {
  if (Status s = CheckHttpUrl(url); !s.ok()) return s;
  Result<const CurlApi*> loaded = Curl();
  if (!loaded.ok()) return loaded.status();
  const CurlApi& api = **loaded;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(api.easy_init(), api.easy_cleanup);
  if (!curl) return Status::Unavailable("cannot start an HTTP request (curl_easy_init)");
  CURL* c = curl.get();
  HttpReply reply;
  std::string bearer, password;
  if (!options.bearer_token_file.empty()) {
    Result<std::string> token = ReadSecretLine(options.bearer_token_file);
    if (!token.ok()) return token.status();
    bearer = "Authorization: Bearer " + *token;
  }
  if (!options.password_file.empty()) {
    Result<std::string> p = ReadSecretLine(options.password_file);
    if (!p.ok()) return p.status();
    password = std::move(*p);
  }
  curl_slist* list = nullptr;
  for (const auto& [name, value] : headers) {
    list = api.slist_append(list, (name + ": " + value).c_str());
  }
  if (!bearer.empty()) list = api.slist_append(list, bearer.c_str());
  if (!body.empty() || method == "POST") {
    bool has_type = false;
    for (const auto& h : headers)
      has_type = has_type || strcasecmp(h.first.c_str(), "content-type") == 0;
    if (!has_type) list = api.slist_append(list, "Content-Type: application/json");
  }
  list = api.slist_append(list, "Expect:");  // no 100-continue round trip
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(list, api.slist_free_all);
  api.easy_setopt(c, CURLOPT_URL, url.c_str());
  api.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  api.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  api.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  api.easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout_ms));
  api.easy_setopt(c, CURLOPT_FOLLOWLOCATION, options.max_redirects > 0 ? 1L : 0L);
  api.easy_setopt(c, CURLOPT_MAXREDIRS, static_cast<long>(options.max_redirects));
  api.easy_setopt(c, CURLOPT_POSTREDIR, static_cast<long>(CURL_REDIR_POST_ALL));
  api.easy_setopt(c, CURLOPT_HTTPHEADER, header_list.get());
  api.easy_setopt(c, CURLOPT_USERAGENT, "ember/" EMBER_VERSION);
  api.easy_setopt(c, CURLOPT_WRITEFUNCTION, Append);
  api.easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
  api.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  api.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options.ca_file.empty()) api.easy_setopt(c, CURLOPT_CAINFO, options.ca_file.c_str());
  if (!options.cert_file.empty()) api.easy_setopt(c, CURLOPT_SSLCERT, options.cert_file.c_str());
  if (!options.key_file.empty()) api.easy_setopt(c, CURLOPT_SSLKEY, options.key_file.c_str());
  if (!options.username.empty()) {
    api.easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    api.easy_setopt(c, CURLOPT_USERNAME, options.username.c_str());
    api.easy_setopt(c, CURLOPT_PASSWORD, password.c_str());
  }
  if (method == "POST") {
    api.easy_setopt(c, CURLOPT_POST, 1L);
    api.easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    api.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  } else if (method != "GET") {
    api.easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (!body.empty()) {
      api.easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
      api.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
  }
  char error[CURL_ERROR_SIZE] = {0};
  api.easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  const CURLcode rc = api.easy_perform(c);
  if (rc != CURLE_OK) {
    const std::string why = error[0] != '\0' ? error : api.easy_strerror(rc);
    if (rc == CURLE_WRITE_ERROR) {
      return Status::Unavailable("the reply from " + url + " exceeds 64 MiB");
    }
    return Status::Unavailable(url + ": " + why);
  }
  long status = 0;
  api.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  reply.status = static_cast<int>(status);
  return reply;
}

}  // namespace ember
