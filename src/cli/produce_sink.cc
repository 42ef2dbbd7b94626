#include "produce_sink.h"

#include <curl/curl.h>
#include <simdjson.h>

#include "freshet/common/base64.h"

namespace freshet::cli {

ErrorCode produce_error_code(std::string_view type, bool transport_error) {
  if (transport_error) return ErrorCode::kUnavailable;
  if (type == "ResourceNotFoundException") return ErrorCode::kNotFound;
  if (type == "ValidationException" || type == "InvalidArgumentException" ||
      type == "AccessDeniedException" || type == "UnrecognizedClientException" ||
      type == "MissingAuthenticationTokenException" || type == "InvalidSignatureException" ||
      type == "IncompleteSignature" || type == "KMSAccessDeniedException" ||
      type == "KMSDisabledException" || type == "KMSNotFoundException" ||
      type == "SerializationException" || type == "UnknownOperationException") {
    return ErrorCode::kInvalidArgument;
  }
  return ErrorCode::kUnavailable;
}

namespace {

// The PutRecords request body for `records`.
void put_records_body(const std::string& stream, const std::vector<const produce::Record*>& records,
                      std::string& body) {
  body.clear();
  body += "{\"StreamName\":\"";
  body += bench::json_escape(stream);
  body += "\",\"Records\":[";
  for (size_t i = 0; i < records.size(); ++i) {
    if (i != 0) body += ',';
    body += "{\"Data\":\"";
    base64_encode_append(records[i]->data, body);
    body += "\",\"PartitionKey\":\"";
    body += bench::json_escape(records[i]->partition_key);
    body += "\"}";
  }
  body += "]}";
}

// What a PutRecords answer says: an error (with AWS's type and message), or which records to
// send again (those with an ErrorCode).
Status put_records_outcome(int status, std::string_view type, bool transport,
                           const std::string& body, const std::string& stream, size_t count,
                           simdjson::dom::parser& parser, std::vector<uint8_t>* retry) {
  if (transport || status != 200) {
    std::string msg(type);
    if (!transport) {
      simdjson::dom::element root;
      std::string_view m;
      if (parser.parse(body).get(root) == simdjson::SUCCESS &&
          (root["message"].get(m) == simdjson::SUCCESS ||
           root["Message"].get(m) == simdjson::SUCCESS)) {
        msg += ": " + std::string(m);
      }
    }
    return Error(produce_error_code(type, transport), "PutRecords to " + stream + ": " + msg);
  }
  simdjson::dom::element root;
  simdjson::dom::array results;
  if (parser.parse(body).get(root) != simdjson::SUCCESS ||
      root["Records"].get(results) != simdjson::SUCCESS || results.size() != count) {
    return Error(ErrorCode::kUnavailable, "PutRecords: an answer that is not a PutRecords output");
  }
  retry->assign(count, 0);
  size_t i = 0;
  for (simdjson::dom::element e : results) {
    std::string_view code;
    (*retry)[i++] = e["ErrorCode"].get(code) == simdjson::SUCCESS && !code.empty() ? 1 : 0;
  }
  return Status();
}

class HttpKinesisSink final : public produce::Sink {
 public:
  HttpKinesisSink(const bench::ClientOptions& client, std::string stream)
      : client_(client), conn_(client_), stream_(std::move(stream)) {}

  Status put(const std::vector<const produce::Record*>& records,
             std::vector<uint8_t>* retry) override {
    put_records_body(stream_, records, body_);
    bench::CallResult r = conn_.call("PutRecords", body_);
    return put_records_outcome(r.status, r.error_type, r.transport_error(), r.body, stream_,
                               records.size(), parser_, retry);
  }

 private:
  bench::ClientOptions client_;
  bench::KinesisConnection conn_;
  std::string stream_;
  std::string body_;
  simdjson::dom::parser parser_;
};

// curl's write callback: appends the answer to a std::string, at most 16 MiB.
size_t append_answer(char* data, size_t size, size_t n, void* out) {
  auto* s = static_cast<std::string*>(out);
  if (s->size() + size * n > (16u << 20)) return 0;
  s->append(data, size * n);
  return size * n;
}

// libcurl, for https endpoints. One easy handle (one keep-alive connection) per sink.
class CurlKinesisSink final : public produce::Sink {
 public:
  CurlKinesisSink(CURL* curl, std::string url, std::string host, std::string region,
                  const bench::SigV4Credentials& credentials, std::string stream)
      : curl_(curl),
        url_(std::move(url)),
        host_(std::move(host)),
        signer_(credentials, std::move(region), "kinesis"),
        stream_(std::move(stream)) {}
  ~CurlKinesisSink() override { curl_easy_cleanup(curl_); }

  Status put(const std::vector<const produce::Record*>& records,
             std::vector<uint8_t>* retry) override {
    put_records_body(stream_, records, body_);
    const std::string date = bench::amz_date_now();
    const char* target = "Kinesis_20131202.PutRecords";
    const char* content_type = "application/x-amz-json-1.1";
    bench::SigV4Request sr;
    sr.headers = {{"host", host_},
                  {"x-amz-date", date},
                  {"x-amz-target", target},
                  {"content-type", content_type}};
    sr.payload = body_;
    const std::string auth = signer_.sign(sr, date).authorization;
    curl_slist* headers = nullptr;
    for (const std::string& h :
         {std::string("X-Amz-Date: ") + date, std::string("X-Amz-Target: ") + target,
          std::string("Content-Type: ") + content_type, "Authorization: " + auth,
          std::string("Expect:")}) {
      headers = curl_slist_append(headers, h.c_str());
    }
    answer_.clear();
    curl_easy_setopt(curl_, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body_.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body_.size()));
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &answer_);
    const CURLcode rc = curl_easy_perform(curl_);
    curl_slist_free_all(headers);
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK) {
      return put_records_outcome(0, std::string("transport: ") + curl_easy_strerror(rc), true,
                                 answer_, stream_, records.size(), parser_, retry);
    }
    std::string type = status == 200 ? "" : bench::aws_error_type(answer_);
    if (status != 200 && type.empty()) type = "HTTP " + std::to_string(status);
    return put_records_outcome(static_cast<int>(status), type, false, answer_, stream_,
                               records.size(), parser_, retry);
  }

 private:
  CURL* curl_;
  std::string url_;
  std::string host_;
  bench::SigV4Signer signer_;
  std::string stream_;
  std::string body_;
  std::string answer_;
  simdjson::dom::parser parser_;
};

}  // namespace

Result<std::unique_ptr<produce::Sink>> make_curl_kinesis_sink(
    const std::string& url, const std::string& region, const bench::SigV4Credentials& credentials,
    std::chrono::milliseconds timeout, std::string stream) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos || (url.compare(0, scheme, "https") != 0 &&
                                      url.compare(0, scheme, "http") != 0)) {
    return Error(ErrorCode::kInvalidArgument,
                 "the endpoint must look like https://HOST[:PORT] or http://HOST[:PORT], got '" +
                     url + "'");
  }
  std::string host = url.substr(scheme + 3);
  if (const size_t slash = host.find('/'); slash != std::string::npos) {
    if (host.substr(slash) != "/") {
      return Error(ErrorCode::kInvalidArgument, "the endpoint must not have a path: '" + url + "'");
    }
    host.resize(slash);
  }
  if (host.empty()) return Error(ErrorCode::kInvalidArgument, "no host in endpoint '" + url + "'");
  // SigV4 signs the Host header as sent: without a default port.
  const bool tls = url.compare(0, scheme, "https") == 0;
  if (tls && host.size() > 4 && host.compare(host.size() - 4, 4, ":443") == 0) host.resize(host.size() - 4);
  if (!tls && host.size() > 3 && host.compare(host.size() - 3, 3, ":80") == 0) host.resize(host.size() - 3);
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return Error(ErrorCode::kFailed, "curl_easy_init failed");
  const std::string target = url.substr(0, scheme + 3) + host + "/";
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &append_answer);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  return std::unique_ptr<produce::Sink>(
      new CurlKinesisSink(curl, target, host, region, credentials, std::move(stream)));
}

std::unique_ptr<produce::Sink> make_http_kinesis_sink(const bench::ClientOptions& client,
                                                      std::string stream) {
  return std::make_unique<HttpKinesisSink>(client, std::move(stream));
}

}  // namespace freshet::cli
