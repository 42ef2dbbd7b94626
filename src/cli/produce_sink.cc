#include "produce_sink.h"

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

class HttpKinesisSink final : public produce::Sink {
 public:
  HttpKinesisSink(const bench::ClientOptions& client, std::string stream)
      : client_(client), conn_(client_), stream_(std::move(stream)) {}

  Status put(const std::vector<const produce::Record*>& records,
             std::vector<uint8_t>* retry) override {
    body_.clear();
    body_ += "{\"StreamName\":\"";
    body_ += bench::json_escape(stream_);
    body_ += "\",\"Records\":[";
    for (size_t i = 0; i < records.size(); ++i) {
      if (i != 0) body_ += ',';
      body_ += "{\"Data\":\"";
      base64_encode_append(records[i]->data, body_);
      body_ += "\",\"PartitionKey\":\"";
      body_ += bench::json_escape(records[i]->partition_key);
      body_ += "\"}";
    }
    body_ += "]}";
    bench::CallResult r = conn_.call("PutRecords", body_);
    if (!r.ok()) {
      std::string msg = r.error_type;
      if (!r.transport_error()) {
        // AWS JSON errors carry a "message" (or "Message"); show it with the type.
        simdjson::dom::element root;
        std::string_view m;
        if (parser_.parse(r.body).get(root) == simdjson::SUCCESS &&
            (root["message"].get(m) == simdjson::SUCCESS ||
             root["Message"].get(m) == simdjson::SUCCESS)) {
          msg += ": " + std::string(m);
        }
      }
      return Error(produce_error_code(r.error_type, r.transport_error()),
                   "PutRecords to " + stream_ + ": " + msg);
    }
    simdjson::dom::element root;
    simdjson::dom::array results;
    if (parser_.parse(r.body).get(root) != simdjson::SUCCESS ||
        root["Records"].get(results) != simdjson::SUCCESS || results.size() != records.size()) {
      return Error(ErrorCode::kUnavailable, "PutRecords: an answer that is not a PutRecords output");
    }
    retry->assign(records.size(), 0);
    size_t i = 0;
    for (simdjson::dom::element e : results) {
      std::string_view code;
      (*retry)[i++] = e["ErrorCode"].get(code) == simdjson::SUCCESS && !code.empty() ? 1 : 0;
    }
    return Status();
  }

 private:
  bench::ClientOptions client_;
  bench::KinesisConnection conn_;
  std::string stream_;
  std::string body_;
  simdjson::dom::parser parser_;
};

}  // namespace

std::unique_ptr<produce::Sink> make_http_kinesis_sink(const bench::ClientOptions& client,
                                                      std::string stream) {
  return std::make_unique<HttpKinesisSink>(client, std::move(stream));
}

}  // namespace freshet::cli
