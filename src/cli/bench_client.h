// A blocking Kinesis client connection for `freshet bench`: one keep-alive HTTP/1.1
// connection speaking AWS JSON 1.1, every request SigV4-signed. One per thread. Used for the
// control calls and by `get` and `e2e`; `put` drives its load with bench_put.h instead.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "bench_sigv4.h"

namespace freshet::cli::bench {

struct Endpoint {
  std::string host;
  std::string port;
  std::string host_header;  // "host" or "host:port" as sent and signed
  // Accepts http://HOST[:PORT][/]; returns nullopt and sets *error otherwise.
  static std::optional<Endpoint> parse(std::string_view url, std::string* error);
};

struct ClientOptions {
  Endpoint endpoint;
  SigV4Credentials credentials;
  std::string region = "us-east-1";
  std::chrono::milliseconds timeout{30'000};
};

struct CallResult {
  int status = 0;          // HTTP status; 0 on a transport error
  std::string body;
  std::string error_type;  // empty on success; the __type, "HTTP <status>" or "transport: ..."
  bool ok() const { return error_type.empty(); }
  bool transport_error() const { return status == 0; }
};

class KinesisConnection {
 public:
  explicit KinesisConnection(const ClientOptions& options);
  KinesisConnection(const KinesisConnection&) = delete;
  KinesisConnection& operator=(const KinesisConnection&) = delete;

  // Connects if not connected. Returns an empty string or the error message.
  std::string connect();
  // Sends one operation (e.g. "PutRecords"); reconnects first if the last call failed.
  CallResult call(std::string_view operation, const std::string& body);

 private:
  void close();

  const ClientOptions& options_;
  SigV4Signer signer_;
  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_;  // its own timeout only for connect
  boost::asio::steady_timer timer_;  // one deadline per call()
  boost::beast::flat_buffer buffer_;
  bool connected_ = false;
};

// The error type of an AWS JSON error body ({"__type":"ns#Name",...} -> "Name"), or "".
std::string aws_error_type(std::string_view body);

// `s` escaped for use inside a JSON string.
std::string json_escape(std::string_view s);

// What `bench get` needs from a GetRecords answer, found by scanning the JSON text instead of
// building a tree (a drain reads answers of 10,000 records as fast as a server sends them).
// Member names are matched as `"Name"` followed by optional spaces and ':' - an escaped quote
// inside a string value cannot look like that. Data is base64 (no escapes), so its decoded
// size follows from its length.
struct GetRecordsScan {
  bool ok = false;           // the text looked like a GetRecords answer ("Records" present)
  int64_t records = 0;       // "Data" members
  int64_t bytes = 0;         // their decoded size
  std::optional<std::string> next_iterator;  // NextShardIterator, when a string
  std::optional<int64_t> millis_behind;      // MillisBehindLatest, when a number
};
GetRecordsScan scan_get_records(std::string_view body);

}  // namespace freshet::cli::bench
