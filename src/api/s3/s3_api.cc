#include "freshet/api/s3.h"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <ctime>
#include <map>

#include "chunked.h"
#include "freshet/common/base64.h"
#include "xml.h"

namespace freshet::api {

using objstore::ByteRange;
using objstore::ObjectAttributes;
using objstore::ObjectInfo;
using s3::xml_escape;

namespace {

constexpr std::string_view kXmlns = "http://s3.amazonaws.com/doc/2006-03-01/";
constexpr std::string_view kXmlDecl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
constexpr size_t kMaxDeleteObjects = 1000;

// An S3 error: code, HTTP status, message, and extra elements (BucketName, Key, ...).
struct S3Error {
  std::string code;
  int status;
  std::string message;
  std::vector<std::pair<std::string, std::string>> extra;
};

S3Error no_such_bucket(std::string_view b) {
  return {"NoSuchBucket", 404, "The specified bucket does not exist", {{"BucketName", std::string(b)}}};
}
S3Error no_such_key(std::string_view k) {
  return {"NoSuchKey", 404, "The specified key does not exist.", {{"Key", std::string(k)}}};
}
S3Error no_such_upload(std::string_view id) {
  return {"NoSuchUpload", 404,
          "The specified upload does not exist. The upload ID may be invalid, or the upload may "
          "have been aborted or completed.",
          {{"UploadId", std::string(id)}}};
}
S3Error invalid_argument(std::string msg, std::string name = {}, std::string value = {}) {
  S3Error e{"InvalidArgument", 400, std::move(msg), {}};
  if (!name.empty()) {
    e.extra = {{"ArgumentName", std::move(name)}, {"ArgumentValue", std::move(value)}};
  }
  return e;
}
S3Error malformed_xml() {
  return {"MalformedXML", 400,
          "The XML you provided was not well-formed or did not validate against our published "
          "schema",
          {}};
}
S3Error internal_error(const Error& e) {
  return {"InternalError", 500, "We encountered an internal error. Please try again. (" +
                                    e.message() + ")",
          {}};
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// S3's encoding-type=url: every byte but unreserved characters and '/' percent-encoded.
std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string iso8601(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

std::string rfc1123(int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

// Parses an HTTP date (RFC 1123, as clients send If-Modified-Since); -1 if unparsable.
int64_t parse_http_date_s(std::string_view v) {
  std::tm tm{};
  std::string s(v);
  const char* end = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr) end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) return -1;
  return static_cast<int64_t>(timegm(&tm));
}

bool parse_u64(std::string_view s, uint64_t& v) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string hex_digest(const EVP_MD* md, std::string_view bytes) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), out, &n, md, nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string h;
  for (unsigned i = 0; i < n; ++i) {
    h.push_back(kHex[out[i] >> 4]);
    h.push_back(kHex[out[i] & 15]);
  }
  return h;
}

struct Query {
  std::map<std::string, std::string, std::less<>> params;
  bool has(std::string_view k) const { return params.count(k) != 0; }
  std::string get(std::string_view k) const {
    auto it = params.find(k);
    return it == params.end() ? std::string() : it->second;
  }
};

Query parse_query(std::string_view q) {
  Query out;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view kv = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (kv.empty()) continue;
    size_t eq = kv.find('=');
    std::string k = percent_decode(kv.substr(0, eq));
    std::string v = eq == std::string_view::npos ? "" : percent_decode(kv.substr(eq + 1));
    out.params.emplace(std::move(k), std::move(v));
  }
  return out;
}

}  // namespace

class S3Api::Impl {
 public:
  Impl(objstore::ObjectStore& store, metrics::Registry& metrics, S3ApiOptions options)
      : store_(store), metrics_(metrics), options_(std::move(options)) {}

  std::optional<RestResponse> handle(RestRequest& req);

 private:
  // One request being handled: the parsed address and helpers to answer.
  struct Call {
    RestRequest& req;
    std::string method;
    std::string bucket;
    std::string key;
    Query query;
    std::string operation = "Unknown";
  };

  RestResponse route(Call& c);
  RestResponse error(Call& c, const S3Error& e);
  RestResponse store_error(Call& c, const Error& e);
  RestResponse xml(Call& c, int status, std::string body);
  RestResponse empty(Call& c, int status);

  // Request body after aws-chunked decoding and checksum checks; nullopt with `err` set.
  std::optional<std::string> body(Call& c, std::optional<S3Error>& err);
  ObjectAttributes attributes_from(const RestRequest& req);
  void add_object_headers(RestResponse& r, const ObjectInfo& info);
  // If-Match/If-None-Match/If-Modified-Since/If-Unmodified-Since; 304/412 response or nullopt.
  std::optional<RestResponse> check_conditions(Call& c, const ObjectInfo& info, bool is_get);

  RestResponse list_buckets(Call& c);
  RestResponse create_bucket(Call& c);
  RestResponse delete_bucket(Call& c);
  RestResponse head_bucket(Call& c);
  RestResponse get_bucket_location(Call& c);
  RestResponse list_objects(Call& c, bool v2);
  RestResponse delete_objects(Call& c);
  RestResponse put_object(Call& c);
  RestResponse copy_object(Call& c);
  RestResponse get_object(Call& c, bool head);
  RestResponse delete_object(Call& c);
  RestResponse create_upload(Call& c);
  RestResponse upload_part(Call& c);
  RestResponse complete_upload(Call& c);
  RestResponse abort_upload(Call& c);
  RestResponse list_parts(Call& c);
  RestResponse list_uploads(Call& c);

  objstore::ObjectStore& store_;
  metrics::Registry& metrics_;
  S3ApiOptions options_;
};

S3Api::S3Api(objstore::ObjectStore& store, metrics::Registry& metrics, S3ApiOptions options)
    : impl_(std::make_unique<Impl>(store, metrics, std::move(options))) {}
S3Api::~S3Api() = default;
std::optional<RestResponse> S3Api::handle(RestRequest& req) { return impl_->handle(req); }

std::optional<RestResponse> S3Api::Impl::handle(RestRequest& req) {
  Call c{req, std::string(req.method), {}, {}, {}};
  std::string_view target = req.target;
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  c.query = parse_query(q == std::string_view::npos ? std::string_view() : target.substr(q + 1));
  // A POST that names no S3 operation belongs to the JSON protocols.
  if (c.method == "POST" && !c.query.has("delete") && !c.query.has("uploads") &&
      !c.query.has("uploadId")) {
    return std::nullopt;
  }
  // Virtual-hosted style: <bucket>.<suffix>[:port].
  std::string_view host = req.host.substr(0, req.host.rfind(':') == std::string_view::npos ||
                                                     req.host.find(']') != std::string_view::npos
                                                 ? std::string_view::npos
                                                 : req.host.rfind(':'));
  std::string suffix = "." + options_.virtual_host_suffix;
  std::string lhost = lower(host);
  if (lhost.size() > suffix.size() &&
      lhost.compare(lhost.size() - suffix.size(), suffix.size(), suffix) == 0) {
    c.bucket = lhost.substr(0, lhost.size() - suffix.size());
    std::string_view rest = path;
    if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
    c.key = percent_decode(rest);
  } else {
    std::string_view rest = path;
    if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
    size_t slash = rest.find('/');
    c.bucket = percent_decode(rest.substr(0, slash));
    if (slash != std::string_view::npos) c.key = percent_decode(rest.substr(slash + 1));
  }
  RestResponse r = route(c);
  metrics_
      .counter("freshet_s3_requests_total", {{"operation", c.operation}},
               "S3 API requests by operation")
      ->inc();
  return r;
}

RestResponse S3Api::Impl::route(Call& c) {
  const std::string& m = c.method;
  if (c.bucket.empty()) {
    if (m == "GET") return list_buckets(c);
    return error(c, {"MethodNotAllowed", 405,
                     "The specified method is not allowed against this resource.", {}});
  }
  if (c.key.empty()) {
    if (m == "PUT") return create_bucket(c);
    if (m == "DELETE") return delete_bucket(c);
    if (m == "HEAD") return head_bucket(c);
    if (m == "POST" && c.query.has("delete")) return delete_objects(c);
    if (m == "GET") {
      if (c.query.has("location")) return get_bucket_location(c);
      if (c.query.has("uploads")) return list_uploads(c);
      return list_objects(c, c.query.get("list-type") == "2");
    }
  } else {
    const bool upload = c.query.has("uploadId");
    if (m == "GET") return upload ? list_parts(c) : get_object(c, false);
    if (m == "HEAD") return get_object(c, true);
    if (m == "PUT") {
      if (upload || c.query.has("partNumber")) return upload_part(c);
      if (c.req.has_header("x-amz-copy-source")) return copy_object(c);
      return put_object(c);
    }
    if (m == "DELETE") return upload ? abort_upload(c) : delete_object(c);
    if (m == "POST" && c.query.has("uploads")) return create_upload(c);
    if (m == "POST" && upload) return complete_upload(c);
  }
  return error(c, {"MethodNotAllowed", 405,
                   "The specified method is not allowed against this resource.", {}});
}

// ---------------------------------------------------------------- responses

RestResponse S3Api::Impl::empty(Call& c, int status) {
  RestResponse r;
  r.status = status;
  r.headers.emplace_back("x-amz-request-id", c.req.request_id);
  if (c.method == "HEAD") r.head_length = 0;
  return r;
}

RestResponse S3Api::Impl::xml(Call& c, int status, std::string body) {
  RestResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/xml");
  r.headers.emplace_back("x-amz-request-id", c.req.request_id);
  r.body = std::string(kXmlDecl) + body;
  return r;
}

RestResponse S3Api::Impl::error(Call& c, const S3Error& e) {
  metrics_
      .counter("freshet_s3_errors_total", {{"operation", c.operation}, {"code", e.code}},
               "S3 API error responses by operation and code")
      ->inc();
  if (c.method == "HEAD" || e.status == 304) {
    RestResponse r = empty(c, e.status);
    r.head_length = 0;
    return r;
  }
  std::string b = "<Error><Code>" + xml_escape(e.code) + "</Code><Message>" +
                  xml_escape(e.message) + "</Message>";
  for (const auto& [k, v] : e.extra) b += "<" + k + ">" + xml_escape(v) + "</" + k + ">";
  b += "<RequestId>" + xml_escape(c.req.request_id) + "</RequestId></Error>";
  return xml(c, e.status, std::move(b));
}

RestResponse S3Api::Impl::store_error(Call& c, const Error& e) {
  const std::string& m = e.message();
  switch (e.code()) {
    case ErrorCode::kNotFound:
      if (m.rfind("bucket", 0) == 0) return error(c, no_such_bucket(c.bucket));
      if (m.rfind("upload", 0) == 0) return error(c, no_such_upload(c.query.get("uploadId")));
      return error(c, no_such_key(c.key));
    case ErrorCode::kAlreadyExists:
      return error(c, {"BucketAlreadyOwnedByYou", 409,
                       "Your previous request to create the named bucket succeeded and you "
                       "already own it.",
                       {{"BucketName", c.bucket}}});
    case ErrorCode::kResourceInUse:
      return error(c, {"BucketNotEmpty", 409, "The bucket you tried to delete is not empty",
                       {{"BucketName", c.bucket}}});
    case ErrorCode::kInvalidArgument:
      if (m.rfind("The specified bucket", 0) == 0) {
        return error(c, {"InvalidBucketName", 400, m, {{"BucketName", c.bucket}}});
      }
      if (m.rfind("Your key", 0) == 0) return error(c, {"KeyTooLongError", 400, m, {}});
      if (m.rfind("One or more", 0) == 0) return error(c, {"InvalidPart", 400, m, {}});
      if (m.rfind("Part number", 0) == 0) {
        return error(c, invalid_argument(m, "partNumber", c.query.get("partNumber")));
      }
      return error(c, invalid_argument(m));
    case ErrorCode::kOutOfRange:
      if (m.rfind("The list of parts", 0) == 0) return error(c, {"InvalidPartOrder", 400, m, {}});
      return error(c, {"InvalidRange", 416, m, {}});
    case ErrorCode::kLimitExceeded:
      if (m.find("smaller") != std::string::npos) return error(c, {"EntityTooSmall", 400, m, {}});
      return error(c, {"EntityTooLarge", 400, m, {}});
    default:
      return error(c, internal_error(e));
  }
}

std::optional<std::string> S3Api::Impl::body(Call& c, std::optional<S3Error>& err) {
  RestRequest& req = c.req;
  std::string sha = std::string(req.header("x-amz-content-sha256"));
  std::string encoding = lower(req.header("content-encoding"));
  std::vector<std::pair<std::string, std::string>> trailers;
  std::string bytes;
  if (sha.rfind("STREAMING-", 0) == 0 || encoding.find("aws-chunked") != std::string::npos) {
    metrics_
        .counter("freshet_s3_aws_chunked_bodies_total", {{"operation", c.operation}},
                 "S3 request bodies sent with aws-chunked encoding (decoded and verified)")
        ->inc();
    Result<s3::DecodedBody> d = s3::decode_aws_chunked(req.body);
    if (!d.ok()) {
      err = S3Error{"IncompleteBody", 400,
                    "The request body could not be decoded as aws-chunked: " + d.error().message(),
                    {}};
      return std::nullopt;
    }
    bytes = std::move(d->bytes);
    trailers = std::move(d->trailers);
    std::string_view declared = req.header("x-amz-decoded-content-length");
    uint64_t n = 0;
    if (!declared.empty() && (!parse_u64(declared, n) || n != bytes.size())) {
      err = S3Error{"IncompleteBody", 400,
                    "You did not provide the number of bytes specified by the "
                    "x-amz-decoded-content-length HTTP header",
                    {}};
      return std::nullopt;
    }
  } else {
    bytes = std::move(req.body);
    // A hex SHA-256 of the payload is checked (UNSIGNED-PAYLOAD is not a hash).
    if (sha.size() == 64 && sha.find_first_not_of("0123456789abcdef") == std::string::npos &&
        hex_digest(EVP_sha256(), bytes) != sha) {
      err = S3Error{"XAmzContentSHA256Mismatch", 400,
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                    {}};
      return std::nullopt;
    }
  }
  // Content-MD5.
  std::string_view md5 = req.header("content-md5");
  if (!md5.empty()) {
    Result<std::string> raw = base64_decode(md5);
    if (!raw.ok() || raw->size() != 16) {
      err = S3Error{"InvalidDigest", 400, "The Content-MD5 you specified is not valid.", {}};
      return std::nullopt;
    }
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(bytes.data(), bytes.size(), out, &n, EVP_md5(), nullptr);
    if (std::string_view(reinterpret_cast<char*>(out), n) != *raw) {
      err = S3Error{"BadDigest", 400,
                    "The Content-MD5 you specified did not match what we received.", {}};
      return std::nullopt;
    }
  }
  // Flexible checksums: in the trailer or in a header.
  auto verify = [&](std::string_view name, std::string_view value) -> bool {
    std::string alg = lower(name.substr(std::string_view("x-amz-checksum-").size()));
    std::string want = s3::checksum_base64(alg, bytes);
    if (want.empty()) return true;  // x-amz-checksum-type or an algorithm we do not know
    if (want != value) {
      std::string upper = alg;
      for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      err = S3Error{"BadDigest", 400,
                    "The " + upper + " you specified did not match the calculated checksum.", {}};
      return false;
    }
    return true;
  };
  for (const auto& [k, v] : trailers) {
    if (k.rfind("x-amz-checksum-", 0) == 0) {
      if (!verify(k, v)) return std::nullopt;
      metrics_
          .counter("freshet_s3_checksums_verified_total", {{"where", "trailer"}},
                   "Flexible checksums of request bodies checked")
          ->inc();
    }
  }
  for (const auto& [k, v] : req.headers) {
    std::string lk = lower(k);
    if (lk.rfind("x-amz-checksum-", 0) == 0 && !verify(lk, v)) return std::nullopt;
  }
  return bytes;
}

ObjectAttributes S3Api::Impl::attributes_from(const RestRequest& req) {
  ObjectAttributes a;
  a.content_type = std::string(req.header("content-type"));
  std::string enc = std::string(req.header("content-encoding"));
  // aws-chunked is a transfer detail, not part of the object's encoding.
  {
    std::string kept;
    size_t start = 0;
    while (start <= enc.size()) {
      size_t comma = enc.find(',', start);
      std::string part = enc.substr(start, comma == std::string::npos ? std::string::npos
                                                                       : comma - start);
      while (!part.empty() && part.front() == ' ') part.erase(0, 1);
      while (!part.empty() && part.back() == ' ') part.pop_back();
      if (!part.empty() && lower(part) != "aws-chunked") kept += (kept.empty() ? "" : ",") + part;
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    a.content_encoding = kept;
  }
  a.cache_control = std::string(req.header("cache-control"));
  a.content_disposition = std::string(req.header("content-disposition"));
  for (const auto& [k, v] : req.headers) {
    std::string lk = lower(k);
    if (lk.rfind("x-amz-meta-", 0) == 0) a.metadata.emplace_back(lk.substr(11), std::string(v));
  }
  std::sort(a.metadata.begin(), a.metadata.end());
  return a;
}

void S3Api::Impl::add_object_headers(RestResponse& r, const ObjectInfo& info) {
  const ObjectAttributes& a = info.attributes;
  r.headers.emplace_back("Content-Type",
                         a.content_type.empty() ? "binary/octet-stream" : a.content_type);
  r.headers.emplace_back("ETag", info.etag);
  r.headers.emplace_back("Last-Modified", rfc1123(info.last_modified_ms));
  r.headers.emplace_back("Accept-Ranges", "bytes");
  if (!a.content_encoding.empty()) r.headers.emplace_back("Content-Encoding", a.content_encoding);
  if (!a.cache_control.empty()) r.headers.emplace_back("Cache-Control", a.cache_control);
  if (!a.content_disposition.empty()) {
    r.headers.emplace_back("Content-Disposition", a.content_disposition);
  }
  for (const auto& [k, v] : a.metadata) r.headers.emplace_back("x-amz-meta-" + k, v);
}

std::optional<RestResponse> S3Api::Impl::check_conditions(Call& c, const ObjectInfo& info,
                                                          bool is_get) {
  auto etag_matches = [&](std::string_view list) {
    std::string_view tag = info.etag;
    std::string_view bare = tag.substr(1, tag.size() - 2);
    size_t start = 0;
    while (start <= list.size()) {
      size_t comma = list.find(',', start);
      std::string_view one = list.substr(start, comma == std::string_view::npos
                                                    ? std::string_view::npos
                                                    : comma - start);
      while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
      while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
      if (one.rfind("W/", 0) == 0) one.remove_prefix(2);
      if (one == "*" || one == tag || one == bare) return true;
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    return false;
  };
  const int64_t modified_s = info.last_modified_ms / 1000;
  std::string_view if_match = c.req.header("if-match");
  std::string_view if_none = c.req.header("if-none-match");
  std::string_view if_mod = c.req.header("if-modified-since");
  std::string_view if_unmod = c.req.header("if-unmodified-since");
  auto failed = [&](const char* cond) {
    return error(c, {"PreconditionFailed", 412,
                     "At least one of the pre-conditions you specified did not hold",
                     {{"Condition", cond}}});
  };
  auto not_modified = [&]() {
    RestResponse r = empty(c, 304);
    r.headers.emplace_back("ETag", info.etag);
    r.headers.emplace_back("Last-Modified", rfc1123(info.last_modified_ms));
    r.head_length = 0;
    return r;
  };
  (void)is_get;
  if (!if_match.empty() && !etag_matches(if_match)) return failed("If-Match");
  if (if_match.empty() && !if_unmod.empty()) {
    int64_t t = parse_http_date_s(if_unmod);
    if (t >= 0 && modified_s > t) return failed("If-Unmodified-Since");
  }
  if (!if_none.empty() && etag_matches(if_none)) return not_modified();
  if (if_none.empty() && !if_mod.empty()) {
    int64_t t = parse_http_date_s(if_mod);
    if (t >= 0 && modified_s <= t) return not_modified();
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- buckets

RestResponse S3Api::Impl::list_buckets(Call& c) {
  c.operation = "ListBuckets";
  Result<std::vector<objstore::BucketInfo>> bs = store_.list_buckets();
  if (!bs.ok()) return store_error(c, bs.error());
  std::string b = "<ListAllMyBucketsResult xmlns=\"" + std::string(kXmlns) + "\"><Owner><ID>" +
                  options_.owner_id + "</ID><DisplayName>freshet</DisplayName></Owner><Buckets>";
  for (const auto& bi : *bs) {
    b += "<Bucket><Name>" + xml_escape(bi.name) + "</Name><CreationDate>" +
         iso8601(bi.creation_ms) + "</CreationDate></Bucket>";
  }
  b += "</Buckets></ListAllMyBucketsResult>";
  return xml(c, 200, std::move(b));
}

RestResponse S3Api::Impl::create_bucket(Call& c) {
  c.operation = "CreateBucket";
  if (Status s = store_.create_bucket(c.bucket); !s.ok()) return store_error(c, s.error());
  RestResponse r = empty(c, 200);
  r.headers.emplace_back("Location", "/" + c.bucket);
  return r;
}

RestResponse S3Api::Impl::delete_bucket(Call& c) {
  c.operation = "DeleteBucket";
  if (Status s = store_.delete_bucket(c.bucket); !s.ok()) return store_error(c, s.error());
  return empty(c, 204);
}

RestResponse S3Api::Impl::head_bucket(Call& c) {
  c.operation = "HeadBucket";
  Result<objstore::BucketInfo> b = store_.head_bucket(c.bucket);
  if (!b.ok()) return store_error(c, b.error());
  RestResponse r = empty(c, 200);
  r.headers.emplace_back("x-amz-bucket-region", options_.region);
  return r;
}

RestResponse S3Api::Impl::get_bucket_location(Call& c) {
  c.operation = "GetBucketLocation";
  Result<objstore::BucketInfo> b = store_.head_bucket(c.bucket);
  if (!b.ok()) return store_error(c, b.error());
  std::string loc = options_.region == "us-east-1" ? "" : xml_escape(options_.region);
  return xml(c, 200,
             "<LocationConstraint xmlns=\"" + std::string(kXmlns) + "\">" + loc +
                 "</LocationConstraint>");
}

RestResponse S3Api::Impl::list_objects(Call& c, bool v2) {
  c.operation = v2 ? "ListObjectsV2" : "ListObjects";
  objstore::ListOptions o;
  o.prefix = c.query.get("prefix");
  o.delimiter = c.query.get("delimiter");
  const std::string encoding = c.query.get("encoding-type");
  if (!encoding.empty() && encoding != "url") {
    return error(c, invalid_argument("Invalid Encoding Method specified in Request",
                                     "encoding-type", encoding));
  }
  if (c.query.has("max-keys")) {
    uint64_t n = 0;
    std::string mk = c.query.get("max-keys");
    if (!parse_u64(mk, n)) {
      return error(c, invalid_argument("Provided max-keys not an integer or within integer range",
                                       "max-keys", mk));
    }
    o.max_keys = static_cast<size_t>(std::min<uint64_t>(n, 1000));
  }
  std::string token;
  if (v2) {
    if (c.query.has("continuation-token")) {
      token = c.query.get("continuation-token");
      Result<std::string> decoded = base64_decode(token);
      if (token.empty() || !decoded.ok() || decoded->rfind("1:", 0) != 0) {
        return error(c, invalid_argument("The continuation token provided is incorrect",
                                         "continuation-token", token));
      }
      o.start_after = decoded->substr(2);
    } else {
      o.start_after = c.query.get("start-after");
    }
  } else {
    o.start_after = c.query.get("marker");
  }
  Result<objstore::ListResult> lr = store_.list_objects(c.bucket, o);
  if (!lr.ok()) return store_error(c, lr.error());
  const bool url = encoding == "url";
  auto enc = [&](std::string_view s) { return xml_escape(url ? url_encode(s) : std::string(s)); };
  std::string b = "<ListBucketResult xmlns=\"" + std::string(kXmlns) + "\"><Name>" +
                  xml_escape(c.bucket) + "</Name><Prefix>" + enc(o.prefix) + "</Prefix>";
  if (v2) {
    b += "<KeyCount>" + std::to_string(lr->objects.size() + lr->common_prefixes.size()) +
         "</KeyCount>";
    if (c.query.has("continuation-token")) {
      b += "<ContinuationToken>" + xml_escape(token) + "</ContinuationToken>";
    }
    if (lr->truncated) {
      b += "<NextContinuationToken>" + xml_escape(base64_encode("1:" + lr->next_start_after)) +
           "</NextContinuationToken>";
    }
    if (c.query.has("start-after")) {
      b += "<StartAfter>" + enc(c.query.get("start-after")) + "</StartAfter>";
    }
  } else {
    b += "<Marker>" + enc(o.start_after) + "</Marker>";
    if (lr->truncated && !o.delimiter.empty()) {
      b += "<NextMarker>" + enc(lr->next_start_after) + "</NextMarker>";
    }
  }
  b += "<MaxKeys>" + std::to_string(o.max_keys) + "</MaxKeys>";
  if (!o.delimiter.empty()) b += "<Delimiter>" + enc(o.delimiter) + "</Delimiter>";
  if (url) b += "<EncodingType>url</EncodingType>";
  b += std::string("<IsTruncated>") + (lr->truncated ? "true" : "false") + "</IsTruncated>";
  for (const ObjectInfo& oi : lr->objects) {
    b += "<Contents><Key>" + enc(oi.key) + "</Key><LastModified>" +
         iso8601(oi.last_modified_ms) + "</LastModified><ETag>" + xml_escape(oi.etag) +
         "</ETag><Size>" + std::to_string(oi.size) + "</Size>";
    if (!v2) {
      b += "<Owner><ID>" + options_.owner_id + "</ID><DisplayName>freshet</DisplayName></Owner>";
    }
    b += "<StorageClass>STANDARD</StorageClass></Contents>";
  }
  for (const std::string& p : lr->common_prefixes) {
    b += "<CommonPrefixes><Prefix>" + enc(p) + "</Prefix></CommonPrefixes>";
  }
  b += "</ListBucketResult>";
  return xml(c, 200, std::move(b));
}

RestResponse S3Api::Impl::delete_objects(Call& c) {
  c.operation = "DeleteObjects";
  std::optional<S3Error> err;
  std::optional<std::string> bytes = body(c, err);
  if (!bytes) return error(c, *err);
  Result<s3::XmlElement> doc = s3::parse_xml(*bytes);
  if (!doc.ok() || doc->name != "Delete") return error(c, malformed_xml());
  bool quiet = false;
  if (const s3::XmlElement* q = doc->child("Quiet")) quiet = q->text == "true";
  std::vector<std::string> keys;
  for (const s3::XmlElement& o : doc->children) {
    if (o.name != "Object") continue;
    const s3::XmlElement* k = o.child("Key");
    if (k == nullptr) return error(c, malformed_xml());
    keys.push_back(k->text);
  }
  if (keys.empty() || keys.size() > kMaxDeleteObjects) return error(c, malformed_xml());
  if (Result<objstore::BucketInfo> bi = store_.head_bucket(c.bucket); !bi.ok()) {
    return store_error(c, bi.error());
  }
  std::string b = "<DeleteResult xmlns=\"" + std::string(kXmlns) + "\">";
  for (const std::string& k : keys) {
    Status s = store_.delete_object(c.bucket, k);
    if (s.ok()) {
      if (!quiet) b += "<Deleted><Key>" + xml_escape(k) + "</Key></Deleted>";
    } else {
      b += "<Error><Key>" + xml_escape(k) + "</Key><Code>InternalError</Code><Message>" +
           xml_escape(s.error().message()) + "</Message></Error>";
    }
  }
  b += "</DeleteResult>";
  return xml(c, 200, std::move(b));
}

// ---------------------------------------------------------------- objects

RestResponse S3Api::Impl::put_object(Call& c) {
  c.operation = "PutObject";
  std::optional<S3Error> err;
  std::optional<std::string> bytes = body(c, err);
  if (!bytes) return error(c, *err);
  Result<ObjectInfo> info = store_.put_object(c.bucket, c.key, *bytes, attributes_from(c.req));
  if (!info.ok()) return store_error(c, info.error());
  RestResponse r = empty(c, 200);
  r.headers.emplace_back("ETag", info->etag);
  for (const auto& [k, v] : c.req.headers) {
    std::string lk = lower(k);
    if (lk.rfind("x-amz-checksum-", 0) == 0) r.headers.emplace_back(lk, std::string(v));
  }
  return r;
}

RestResponse S3Api::Impl::copy_object(Call& c) {
  c.operation = "CopyObject";
  std::string src = percent_decode(c.req.header("x-amz-copy-source"));
  if (size_t q = src.find("?versionId="); q != std::string::npos) src.resize(q);
  if (!src.empty() && src.front() == '/') src.erase(0, 1);
  size_t slash = src.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == src.size()) {
    return error(c, invalid_argument("Copy Source must mention the source bucket and key: "
                                     "sourcebucket/sourcekey",
                                     "x-amz-copy-source", src));
  }
  std::string sb = src.substr(0, slash), sk = src.substr(slash + 1);
  Result<objstore::ObjectData> data = store_.get_object(sb, sk, std::nullopt);
  if (!data.ok()) {
    if (data.code() == ErrorCode::kNotFound) {
      if (data.error().message().rfind("bucket", 0) == 0) return error(c, no_such_bucket(sb));
      return error(c, no_such_key(sk));
    }
    return store_error(c, data.error());
  }
  const bool replace = c.req.header("x-amz-metadata-directive") == "REPLACE";
  if (!replace && sb == c.bucket && sk == c.key) {
    return error(c, {"InvalidRequest", 400,
                     "This copy request is illegal because it is trying to copy an object to "
                     "itself without changing the object's metadata, storage class, website "
                     "redirect location or encryption attributes.",
                     {}});
  }
  ObjectAttributes attrs = replace ? attributes_from(c.req) : data->info.attributes;
  Result<ObjectInfo> info = store_.put_object(c.bucket, c.key, data->data(), attrs);
  if (!info.ok()) return store_error(c, info.error());
  return xml(c, 200,
             "<CopyObjectResult xmlns=\"" + std::string(kXmlns) + "\"><LastModified>" +
                 iso8601(info->last_modified_ms) + "</LastModified><ETag>" +
                 xml_escape(info->etag) + "</ETag></CopyObjectResult>");
}

RestResponse S3Api::Impl::get_object(Call& c, bool head) {
  c.operation = head ? "HeadObject" : "GetObject";
  Result<ObjectInfo> info = store_.head_object(c.bucket, c.key);
  if (!info.ok()) return store_error(c, info.error());
  if (std::optional<RestResponse> r = check_conditions(c, *info, !head)) return std::move(*r);
  // Range: bytes=a-b, bytes=a-, bytes=-n. Syntax S3 does not understand is ignored.
  std::optional<ByteRange> range;
  std::string_view rh = c.req.header("range");
  if (!rh.empty() && rh.rfind("bytes=", 0) == 0 && rh.find(',') == std::string_view::npos) {
    std::string_view spec = rh.substr(6);
    size_t dash = spec.find('-');
    if (dash != std::string_view::npos) {
      uint64_t a = 0, b = 0;
      std::string_view first = spec.substr(0, dash), last = spec.substr(dash + 1);
      const uint64_t size = info->size;
      bool ok = false;
      if (first.empty() && parse_u64(last, b)) {
        if (b == 0 || size == 0) {
          return error(c, {"InvalidRange", 416, "The requested range is not satisfiable",
                           {{"RangeRequested", std::string(rh)},
                            {"ActualObjectSize", std::to_string(size)}}});
        }
        range = ByteRange{size > b ? size - b : 0, size - 1};
        ok = true;
      } else if (parse_u64(first, a) && (last.empty() || (parse_u64(last, b) && b >= a))) {
        if (a >= size) {
          return error(c, {"InvalidRange", 416, "The requested range is not satisfiable",
                           {{"RangeRequested", std::string(rh)},
                            {"ActualObjectSize", std::to_string(size)}}});
        }
        range = ByteRange{a, last.empty() ? size - 1 : std::min(b, size - 1)};
        ok = true;
      }
      if (!ok) range.reset();
    }
  }
  const uint64_t length = range ? range->last - range->first + 1 : info->size;
  RestResponse r;
  r.status = range ? 206 : 200;
  add_object_headers(r, *info);
  r.headers.emplace_back("x-amz-request-id", c.req.request_id);
  if (range) {
    r.headers.emplace_back("Content-Range", "bytes " + std::to_string(range->first) + "-" +
                                                std::to_string(range->last) + "/" +
                                                std::to_string(info->size));
  }
  if (head) {
    r.head_length = length;
    return r;
  }
  Result<objstore::ObjectData> data = store_.get_object(c.bucket, c.key, range);
  if (!data.ok()) return store_error(c, data.error());
  if (data->storage) {
    r.body_owner = std::move(data->storage);
    r.body_view = data->view;
  } else {
    r.body = std::move(data->bytes);
  }
  return r;
}

RestResponse S3Api::Impl::delete_object(Call& c) {
  c.operation = "DeleteObject";
  if (Status s = store_.delete_object(c.bucket, c.key); !s.ok()) return store_error(c, s.error());
  return empty(c, 204);
}

// ---------------------------------------------------------------- multipart

RestResponse S3Api::Impl::create_upload(Call& c) {
  c.operation = "CreateMultipartUpload";
  Result<objstore::UploadInfo> up = store_.create_upload(c.bucket, c.key, attributes_from(c.req));
  if (!up.ok()) return store_error(c, up.error());
  return xml(c, 200,
             "<InitiateMultipartUploadResult xmlns=\"" + std::string(kXmlns) + "\"><Bucket>" +
                 xml_escape(c.bucket) + "</Bucket><Key>" + xml_escape(c.key) +
                 "</Key><UploadId>" + up->upload_id + "</UploadId></InitiateMultipartUploadResult>");
}

RestResponse S3Api::Impl::upload_part(Call& c) {
  c.operation = "UploadPart";
  std::string pn = c.query.get("partNumber");
  uint64_t n = 0;
  if (!parse_u64(pn, n) || n < 1 || n > 10000) {
    return error(c, invalid_argument(
                        "Part number must be an integer between 1 and 10000, inclusive",
                        "partNumber", pn));
  }
  if (!c.query.has("uploadId")) return error(c, no_such_upload(""));
  std::optional<S3Error> err;
  std::optional<std::string> bytes = body(c, err);
  if (!bytes) return error(c, *err);
  Result<objstore::PartInfo> part =
      store_.upload_part(c.bucket, c.query.get("uploadId"), static_cast<int>(n), *bytes);
  if (!part.ok()) return store_error(c, part.error());
  RestResponse r = empty(c, 200);
  r.headers.emplace_back("ETag", part->etag);
  for (const auto& [k, v] : c.req.headers) {
    std::string lk = lower(k);
    if (lk.rfind("x-amz-checksum-", 0) == 0) r.headers.emplace_back(lk, std::string(v));
  }
  return r;
}

RestResponse S3Api::Impl::complete_upload(Call& c) {
  c.operation = "CompleteMultipartUpload";
  std::optional<S3Error> err;
  std::optional<std::string> bytes = body(c, err);
  if (!bytes) return error(c, *err);
  Result<s3::XmlElement> doc = s3::parse_xml(*bytes);
  if (!doc.ok() || doc->name != "CompleteMultipartUpload") return error(c, malformed_xml());
  std::vector<std::pair<int, std::string>> parts;
  for (const s3::XmlElement& p : doc->children) {
    if (p.name != "Part") continue;
    const s3::XmlElement* num = p.child("PartNumber");
    const s3::XmlElement* etag = p.child("ETag");
    uint64_t n = 0;
    if (num == nullptr || etag == nullptr || !parse_u64(num->text, n) || n < 1 || n > 10000) {
      return error(c, malformed_xml());
    }
    parts.emplace_back(static_cast<int>(n), etag->text);
  }
  if (parts.empty()) return error(c, malformed_xml());
  Result<ObjectInfo> info = store_.complete_upload(c.bucket, c.key, c.query.get("uploadId"), parts);
  if (!info.ok()) return store_error(c, info.error());
  return xml(c, 200,
             "<CompleteMultipartUploadResult xmlns=\"" + std::string(kXmlns) + "\"><Location>/" +
                 xml_escape(c.bucket) + "/" + xml_escape(url_encode(c.key)) + "</Location><Bucket>" +
                 xml_escape(c.bucket) + "</Bucket><Key>" + xml_escape(c.key) + "</Key><ETag>" +
                 xml_escape(info->etag) + "</ETag></CompleteMultipartUploadResult>");
}

RestResponse S3Api::Impl::abort_upload(Call& c) {
  c.operation = "AbortMultipartUpload";
  if (Status s = store_.abort_upload(c.bucket, c.query.get("uploadId")); !s.ok()) {
    return store_error(c, s.error());
  }
  return empty(c, 204);
}

RestResponse S3Api::Impl::list_parts(Call& c) {
  c.operation = "ListParts";
  const std::string id = c.query.get("uploadId");
  Result<std::vector<objstore::PartInfo>> parts = store_.list_parts(c.bucket, id);
  if (!parts.ok()) return store_error(c, parts.error());
  std::string b = "<ListPartsResult xmlns=\"" + std::string(kXmlns) + "\"><Bucket>" +
                  xml_escape(c.bucket) + "</Bucket><Key>" + xml_escape(c.key) +
                  "</Key><UploadId>" + xml_escape(id) +
                  "</UploadId><PartNumberMarker>0</PartNumberMarker><MaxParts>1000</MaxParts>"
                  "<IsTruncated>false</IsTruncated><StorageClass>STANDARD</StorageClass>";
  for (const auto& p : *parts) {
    b += "<Part><PartNumber>" + std::to_string(p.part_number) + "</PartNumber><LastModified>" +
         iso8601(p.last_modified_ms) + "</LastModified><ETag>" + xml_escape(p.etag) +
         "</ETag><Size>" + std::to_string(p.size) + "</Size></Part>";
  }
  b += "</ListPartsResult>";
  return xml(c, 200, std::move(b));
}

RestResponse S3Api::Impl::list_uploads(Call& c) {
  c.operation = "ListMultipartUploads";
  Result<std::vector<objstore::UploadInfo>> ups = store_.list_uploads(c.bucket);
  if (!ups.ok()) return store_error(c, ups.error());
  std::string b = "<ListMultipartUploadsResult xmlns=\"" + std::string(kXmlns) + "\"><Bucket>" +
                  xml_escape(c.bucket) +
                  "</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>"
                  "<MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>";
  for (const auto& u : *ups) {
    b += "<Upload><Key>" + xml_escape(u.key) + "</Key><UploadId>" + u.upload_id +
         "</UploadId><Initiated>" + iso8601(u.initiated_ms) +
         "</Initiated><StorageClass>STANDARD</StorageClass></Upload>";
  }
  b += "</ListMultipartUploadsResult>";
  return xml(c, 200, std::move(b));
}

}  // namespace freshet::api
