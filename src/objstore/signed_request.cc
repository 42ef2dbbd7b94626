#include "freshet/objstore/signed_request.h"

#include <algorithm>

namespace freshet::objstore {
namespace {

size_t append_body(char* p, size_t size, size_t n, void* body) {
  static_cast<std::string*>(body)->append(p, size * n);
  return size * n;
}

}  // namespace

void set_signed_request(CURL* h, const SignedRequest& r, curl_slist** headers, char* error_buffer,
                        std::string* body) {
  const std::string sigv4 = "aws:amz:" + r.region + ":" + r.service;
  const std::string userpwd = r.access_key + ":" + r.secret_key;
  *headers = curl_slist_append(*headers, "Expect:");
  curl_easy_setopt(h, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(h, CURLOPT_USERPWD, userpwd.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, *headers);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, r.timeout_ms);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, std::min(r.timeout_ms, 5000L));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
}

}  // namespace freshet::objstore
