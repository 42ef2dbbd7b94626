#include "bench_sigv4.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>

namespace freshet::cli::bench {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

void append_hex(const unsigned char* p, size_t n, std::string* out) {
  const size_t at = out->size();
  out->resize(at + 2 * n);
  char* q = out->data() + at;
  for (size_t i = 0; i < n; ++i) {
    q[2 * i] = kHexDigits[p[i] >> 4];
    q[2 * i + 1] = kHexDigits[p[i] & 15];
  }
}

std::string hex(const unsigned char* p, size_t n) {
  std::string out;
  append_hex(p, n, &out);
  return out;
}

std::string hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

// The raw 32-byte signing key for yyyymmdd `date`.
std::string derive_signing_key(const SigV4Credentials& credentials, std::string_view date,
                               std::string_view region, std::string_view service) {
  std::string k = hmac("AWS4" + credentials.secret_access_key, date);
  k = hmac(k, region);
  k = hmac(k, service);
  return hmac(k, "aws4_request");
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Trims and collapses runs of spaces, as the canonical header value requires.
std::string trim_value(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// The canonical headers: lower-case names sorted (stably), values trimmed, and a repeated
// header's values joined with ','. One (name, value) per distinct name.
std::vector<std::pair<std::string, std::string>> canonical_headers(
    const std::vector<std::pair<std::string, std::string>>& raw) {
  std::vector<std::pair<std::string, std::string>> headers;
  headers.reserve(raw.size());
  for (const auto& [name, value] : raw) headers.emplace_back(lower(name), trim_value(value));
  std::stable_sort(headers.begin(), headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<std::string, std::string>> merged;
  for (auto& h : headers) {
    if (!merged.empty() && merged.back().first == h.first) {
      merged.back().second += "," + h.second;
    } else {
      merged.push_back(std::move(h));
    }
  }
  return merged;
}

std::string signed_header_list(const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string out;
  for (const auto& [name, value] : headers) {
    if (!out.empty()) out += ';';
    out += name;
  }
  return out;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d);
  return hex(d, sizeof d);
}

std::string amz_date_now() {
  AmzDateClock clock;
  return std::string(clock.now());
}

std::string_view AmzDateClock::now() {
  const std::time_t t = std::time(nullptr);
  if (t != second_) {
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    size_ = std::strftime(text_, sizeof text_, "%Y%m%dT%H%M%SZ", &tm);
    second_ = t;
  }
  return std::string_view(text_, size_);
}

SigV4Signer::SigV4Signer(SigV4Credentials credentials, std::string region, std::string service)
    : credentials_(std::move(credentials)),
      region_(std::move(region)),
      service_(std::move(service)) {}

SigV4Signature SigV4Signer::sign(const SigV4Request& request, std::string_view amz_date) {
  const std::string date(amz_date.substr(0, 8));
  if (date != key_date_) {
    signing_key_ = derive_signing_key(credentials_, date, region_, service_);
    key_date_ = date;
  }
  const auto headers = canonical_headers(request.headers);
  SigV4Signature s;
  s.signed_headers = signed_header_list(headers);
  std::string canonical;
  for (const auto& [name, value] : headers) canonical += name + ":" + value + "\n";
  s.canonical_request = request.method + "\n" + request.path + "\n" + request.query + "\n" +
                        canonical + "\n" + s.signed_headers + "\n" +
                        (request.payload_sha256.empty() ? sha256_hex(request.payload)
                                                        : std::string(request.payload_sha256));
  const std::string scope = date + "/" + region_ + "/" + service_ + "/aws4_request";
  s.string_to_sign = "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + scope + "\n" +
                     sha256_hex(s.canonical_request);
  const std::string sig = hmac(signing_key_, s.string_to_sign);
  s.signature = hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size());
  s.authorization = "AWS4-HMAC-SHA256 Credential=" + credentials_.access_key_id + "/" + scope +
                    ", SignedHeaders=" + s.signed_headers + ", Signature=" + s.signature;
  return s;
}

// ---- SigV4FixedSigner ---------------------------------------------------------------------

void SigV4FixedSigner::MdCtxFree::operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
void SigV4FixedSigner::MacCtxFree::operator()(EVP_MAC_CTX* p) const { EVP_MAC_CTX_free(p); }

Result<SigV4FixedSigner> SigV4FixedSigner::create(SigV4Credentials credentials, std::string region,
                                                  std::string service, const SigV4Request& shape) {
  const auto headers = canonical_headers(shape.headers);
  const auto date_header = std::find_if(headers.begin(), headers.end(),
                                        [](const auto& h) { return h.first == "x-amz-date"; });
  if (date_header == headers.end() ||
      std::count_if(shape.headers.begin(), shape.headers.end(),
                    [](const auto& h) { return lower(h.first) == "x-amz-date"; }) != 1) {
    return Error(ErrorCode::kInvalidArgument, "the request must have one x-amz-date header");
  }
  SigV4FixedSigner s;
  s.credentials_ = std::move(credentials);
  s.region_ = std::move(region);
  s.service_ = std::move(service);
  s.signed_headers_ = signed_header_list(headers);
  s.before_date_ = shape.method + "\n" + shape.path + "\n" + shape.query + "\n";
  for (auto h = headers.begin(); h != date_header; ++h) {
    s.before_date_ += h->first + ":" + h->second + "\n";
  }
  s.before_date_ += "x-amz-date:";
  s.after_date_ = "\n";
  for (auto h = date_header + 1; h != headers.end(); ++h) {
    s.after_date_ += h->first + ":" + h->second + "\n";
  }
  s.after_date_ += "\n" + s.signed_headers_ + "\n";

  s.sha256_.reset(EVP_MD_CTX_new());
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac != nullptr) {
    s.hmac_.reset(EVP_MAC_CTX_new(mac));
    EVP_MAC_free(mac);  // the context holds its own reference
  }
  if (s.sha256_ == nullptr || s.hmac_ == nullptr ||
      EVP_DigestInit_ex2(s.sha256_.get(), EVP_sha256(), nullptr) != 1) {
    return Error(ErrorCode::kFailed, "OpenSSL: cannot set up SHA-256 and HMAC contexts");
  }
  return s;
}

Status SigV4FixedSigner::set_date(std::string_view date) {
  const std::string key = derive_signing_key(credentials_, date, region_, service_);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(hmac_.get(), reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                   params) != 1) {
    key_date_.clear();
    return Error(ErrorCode::kFailed, "OpenSSL: HMAC key setup failed");
  }
  key_date_ = date;
  scope_ = key_date_ + "/" + region_ + "/" + service_ + "/aws4_request";
  authorization_prefix_ = "AWS4-HMAC-SHA256 Credential=" + credentials_.access_key_id + "/" +
                          scope_ + ", SignedHeaders=" + signed_headers_ + ", Signature=";
  return Status::ok_status();
}

Status SigV4FixedSigner::append_authorization(std::string_view amz_date,
                                              std::string_view payload_sha256, std::string* out) {
  const std::string_view date = amz_date.substr(0, 8);
  if (date != key_date_) {
    if (Status st = set_date(date); !st.ok()) return st;
  }
  scratch_.clear();
  scratch_ += before_date_;
  scratch_ += amz_date;
  scratch_ += after_date_;
  scratch_ += payload_sha256;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  // A NULL type reuses the context's SHA-256 without looking the algorithm up again.
  if (EVP_DigestInit_ex2(sha256_.get(), nullptr, nullptr) != 1 ||
      EVP_DigestUpdate(sha256_.get(), scratch_.data(), scratch_.size()) != 1 ||
      EVP_DigestFinal_ex(sha256_.get(), digest, &digest_len) != 1) {
    return Error(ErrorCode::kFailed, "OpenSSL: SHA-256 failed");
  }
  scratch_.clear();
  scratch_ += "AWS4-HMAC-SHA256\n";
  scratch_ += amz_date;
  scratch_ += '\n';
  scratch_ += scope_;
  scratch_ += '\n';
  append_hex(digest, digest_len, &scratch_);
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t mac_len = 0;
  // A NULL key restarts the HMAC with the key set_date() gave it.
  if (EVP_MAC_init(hmac_.get(), nullptr, 0, nullptr) != 1 ||
      EVP_MAC_update(hmac_.get(), reinterpret_cast<const unsigned char*>(scratch_.data()),
                     scratch_.size()) != 1 ||
      EVP_MAC_final(hmac_.get(), mac, &mac_len, sizeof mac) != 1) {
    return Error(ErrorCode::kFailed, "OpenSSL: HMAC failed");
  }
  *out += authorization_prefix_;
  append_hex(mac, mac_len, out);
  return Status::ok_status();
}

}  // namespace freshet::cli::bench
