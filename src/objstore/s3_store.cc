#include "freshet/objstore/s3_store.h"

#include <curl/curl.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <mutex>
#include <thread>

#include "freshet/objstore/signed_request.h"

namespace freshet::objstore {
namespace {

struct Response {
  long status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  CURLcode curl = CURLE_OK;
  std::string curl_error;

  std::string header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return {};
  }
};

size_t on_header(char* p, size_t size, size_t n, void* user) {
  std::string_view line(p, size * n);
  size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string k(line.substr(0, colon));
    for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view v = line.substr(colon + 1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
    static_cast<Response*>(user)->headers.emplace_back(std::move(k), std::string(v));
  }
  return size * n;
}

struct Upload {
  std::string_view data;
  size_t pos = 0;
};

size_t on_read(char* p, size_t size, size_t n, void* user) {
  auto* u = static_cast<Upload*>(user);
  size_t k = std::min(size * n, u->data.size() - u->pos);
  std::memcpy(p, u->data.data() + u->pos, k);
  u->pos += k;
  return k;
}

std::string uri_encode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string xml_text(const std::string& body, const std::string& tag) {
  size_t a = body.find("<" + tag + ">");
  if (a == std::string::npos) return {};
  a += tag.size() + 2;
  size_t b = body.find("</" + tag + ">", a);
  return b == std::string::npos ? std::string() : body.substr(a, b - a);
}

class S3Store final : public ObjectStore {
 public:
  explicit S3Store(S3StoreOptions o) : o_(std::move(o)) {}

  Status create_bucket(std::string_view bucket) override {
    Response r = call("PUT", std::string(bucket), "", {}, {});
    if (r.status == 409 && r.body.find("BucketAlreadyOwnedByYou") != std::string::npos) {
      return Error(ErrorCode::kAlreadyExists, "bucket exists");
    }
    return to_status(r, bucket);
  }
  Status delete_bucket(std::string_view) override { return unsupported("DeleteBucket"); }
  Result<BucketInfo> head_bucket(std::string_view bucket) override {
    Response r = call("HEAD", std::string(bucket), "", {}, {});
    if (Status s = to_status(r, bucket); !s.ok()) return s.error();
    return BucketInfo{std::string(bucket), 0};
  }
  Result<std::vector<BucketInfo>> list_buckets() override { return unsupported("ListBuckets"); }

  Result<ObjectInfo> put_object(std::string_view bucket, std::string_view key,
                                std::string_view bytes, const ObjectAttributes& attrs) override {
    if (bytes.size() > o_.multipart_threshold) return multipart(bucket, key, bytes, attrs);
    std::vector<std::string> headers;
    if (!attrs.content_type.empty()) headers.push_back("Content-Type: " + attrs.content_type);
    Response r = call("PUT", path(bucket, key), "", headers, bytes);
    if (Status s = to_status(r, bucket); !s.ok()) return s.error();
    ObjectInfo info;
    info.key = std::string(key);
    info.size = bytes.size();
    info.etag = r.header("etag");
    info.attributes = attrs;
    return info;
  }
  Result<ObjectInfo> head_object(std::string_view bucket, std::string_view key) override {
    Response r = call("HEAD", path(bucket, key), "", {}, {});
    if (r.status == 404) return Error(ErrorCode::kNotFound, "key does not exist");
    if (Status s = to_status(r, bucket); !s.ok()) return s.error();
    ObjectInfo info;
    info.key = std::string(key);
    info.size = std::strtoull(r.header("content-length").c_str(), nullptr, 10);
    info.etag = r.header("etag");
    return info;
  }
  Result<ObjectData> get_object(std::string_view bucket, std::string_view key,
                                std::optional<ByteRange> range) override {
    std::vector<std::string> headers;
    if (range) {
      headers.push_back("Range: bytes=" + std::to_string(range->first) + "-" +
                        std::to_string(range->last));
    }
    Response r = call("GET", path(bucket, key), "", headers, {});
    if (r.status == 404 && r.body.find("NoSuchKey") != std::string::npos) {
      return Error(ErrorCode::kNotFound, "key does not exist");
    }
    if (r.status == 416) return Error(ErrorCode::kOutOfRange, "The requested range is not satisfiable");
    if (Status s = to_status(r, bucket); !s.ok()) return s.error();
    ObjectData d;
    d.info.key = std::string(key);
    d.info.etag = r.header("etag");
    d.bytes = std::move(r.body);
    d.info.size = d.bytes.size();
    return d;
  }
  Status delete_object(std::string_view bucket, std::string_view key) override {
    return to_status(call("DELETE", path(bucket, key), "", {}, {}), bucket);
  }
  Result<ListResult> list_objects(std::string_view, const ListOptions&) override {
    return unsupported("ListObjectsV2");
  }
  Result<UploadInfo> create_upload(std::string_view, std::string_view,
                                   const ObjectAttributes&) override {
    return unsupported("CreateMultipartUpload");
  }
  Result<PartInfo> upload_part(std::string_view, std::string_view, int,
                               std::string_view) override {
    return unsupported("UploadPart");
  }
  Result<ObjectInfo> complete_upload(std::string_view, std::string_view, std::string_view,
                                     const std::vector<std::pair<int, std::string>>&) override {
    return unsupported("CompleteMultipartUpload");
  }
  Status abort_upload(std::string_view, std::string_view) override {
    return unsupported("AbortMultipartUpload");
  }
  Result<std::vector<PartInfo>> list_parts(std::string_view, std::string_view) override {
    return unsupported("ListParts");
  }
  Result<std::vector<UploadInfo>> list_uploads(std::string_view) override {
    return unsupported("ListMultipartUploads");
  }

 private:
  static Error unsupported(const char* op) {
    return Error(ErrorCode::kInvalidArgument,
                 std::string(op) + " is not supported by the S3 client");
  }

  static std::string path(std::string_view bucket, std::string_view key) {
    return std::string(bucket) + "/" + uri_encode(key, true);
  }

  Status to_status(const Response& r, std::string_view bucket) const {
    if (r.curl != CURLE_OK) {
      return Error(ErrorCode::kUnavailable, "S3 endpoint " + o_.endpoint + ": " + r.curl_error);
    }
    if (r.status >= 200 && r.status < 300) return {};
    std::string code = xml_text(r.body, "Code");
    std::string msg = "S3 " + std::to_string(r.status) + (code.empty() ? "" : " " + code) + ": " +
                      xml_text(r.body, "Message");
    if (code == "NoSuchBucket" || (r.status == 404 && code.empty())) {
      return Error(ErrorCode::kNotFound, "bucket " + std::string(bucket) + ": " + msg);
    }
    if (r.status >= 500 || r.status == 429) return Error(ErrorCode::kUnavailable, msg);
    return Error(ErrorCode::kFailed, msg);
  }

  // One request with retries. query: "uploads", "partNumber=1&uploadId=..." or "".
  Response call(const std::string& method, const std::string& path, const std::string& query,
                const std::vector<std::string>& headers, std::string_view body) {
    Response r;
    long backoff = 100;
    for (int attempt = 1;; ++attempt) {
      r = once(method, path, query, headers, body);
      const bool retry = r.curl != CURLE_OK || r.status >= 500 || r.status == 429;
      if (!retry || attempt >= o_.max_attempts) return r;
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
      backoff = std::min(backoff * 2, 2000L);
    }
  }

  Response once(const std::string& method, const std::string& path, const std::string& query,
                const std::vector<std::string>& headers, std::string_view body) {
    Response r;
    CURL* h = curl_easy_init();
    if (h == nullptr) {
      r.curl = CURLE_FAILED_INIT;
      r.curl_error = "curl_easy_init failed";
      return r;
    }
    SignedRequest req{o_.endpoint + "/" + path + (query.empty() ? "" : "?" + query), o_.region,
                      "s3", o_.access_key, o_.secret_key, o_.timeout_ms};
    char err[CURL_ERROR_SIZE] = {0};
    curl_slist* list = nullptr;
    for (const std::string& hd : headers) list = curl_slist_append(list, hd.c_str());
    Upload up{body, 0};
    set_signed_request(h, req, &list, err, &r.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
    if (method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (method == "PUT") {
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
      curl_easy_setopt(h, CURLOPT_READDATA, &up);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
    } else if (method == "POST") {
      curl_easy_setopt(h, CURLOPT_POST, 1L);
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    } else if (method != "GET") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    r.curl = curl_easy_perform(h);
    if (r.curl != CURLE_OK) {
      r.curl_error = err[0] != 0 ? err : curl_easy_strerror(r.curl);
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(list);
    curl_easy_cleanup(h);
    return r;
  }

  Result<ObjectInfo> multipart(std::string_view bucket, std::string_view key,
                               std::string_view bytes, const ObjectAttributes& attrs) {
    const std::string p = path(bucket, key);
    std::vector<std::string> headers;
    if (!attrs.content_type.empty()) headers.push_back("Content-Type: " + attrs.content_type);
    Response init = call("POST", p, "uploads", headers, {});
    if (Status s = to_status(init, bucket); !s.ok()) return s.error();
    const std::string id = xml_text(init.body, "UploadId");
    if (id.empty()) return Error(ErrorCode::kFailed, "CreateMultipartUpload: no UploadId");
    std::string complete = "<CompleteMultipartUpload>";
    int part = 0;
    for (size_t off = 0; off < bytes.size(); off += o_.part_bytes) {
      ++part;
      std::string_view chunk = bytes.substr(off, o_.part_bytes);
      Response r = call("PUT", p, "partNumber=" + std::to_string(part) + "&uploadId=" +
                                      uri_encode(id, false),
                        {}, chunk);
      if (Status s = to_status(r, bucket); !s.ok()) {
        (void)call("DELETE", p, "uploadId=" + uri_encode(id, false), {}, {});
        return s.error();
      }
      complete += "<Part><PartNumber>" + std::to_string(part) + "</PartNumber><ETag>" +
                  r.header("etag") + "</ETag></Part>";
    }
    complete += "</CompleteMultipartUpload>";
    Response done = call("POST", p, "uploadId=" + uri_encode(id, false),
                         {"Content-Type: application/xml"}, complete);
    Status st = to_status(done, bucket);
    // CompleteMultipartUpload may answer 200 with an <Error> body.
    if (st.ok() && done.body.find("<Error>") != std::string::npos) {
      st = Error(ErrorCode::kUnavailable, "CompleteMultipartUpload: " + xml_text(done.body, "Message"));
    }
    if (!st.ok()) {
      (void)call("DELETE", p, "uploadId=" + uri_encode(id, false), {}, {});
      return st.error();
    }
    ObjectInfo info;
    info.key = std::string(key);
    info.size = bytes.size();
    info.etag = xml_text(done.body, "ETag");
    info.attributes = attrs;
    return info;
  }

  S3StoreOptions o_;
};

}  // namespace

Result<std::unique_ptr<ObjectStore>> open_s3_store(S3StoreOptions options) {
  static std::once_flag once;
  static CURLcode init = CURLE_OK;
  std::call_once(once, [] { init = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (init != CURLE_OK) return Error(ErrorCode::kFailed, "curl_global_init failed");
  if (options.endpoint.empty()) return Error(ErrorCode::kInvalidArgument, "S3 endpoint is empty");
  while (!options.endpoint.empty() && options.endpoint.back() == '/') options.endpoint.pop_back();
  return std::unique_ptr<ObjectStore>(new S3Store(std::move(options)));
}

}  // namespace freshet::objstore
