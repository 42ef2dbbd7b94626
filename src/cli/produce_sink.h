// A produce::Sink that sends PutRecords to any Kinesis endpoint over HTTP (AWS JSON 1.1,
// SigV4-signed, one keep-alive connection: bench_client.h). Used by `freshet produce` and by
// pipeline producers that go through the node's own port.
#pragma once

#include <memory>
#include <string>

#include "bench_client.h"
#include "freshet/produce/producer.h"

namespace freshet::cli {

std::unique_ptr<produce::Sink> make_http_kinesis_sink(const bench::ClientOptions& client,
                                                      std::string stream);

// The same over libcurl, for https:// endpoints (AWS itself): `url` is the endpoint
// ("https://kinesis.us-east-1.amazonaws.com" or any http(s)://HOST[:PORT]), signed for
// `region` with `credentials`. TLS certificates are verified against the system's CAs.
Result<std::unique_ptr<produce::Sink>> make_curl_kinesis_sink(
    const std::string& url, const std::string& region, const bench::SigV4Credentials& credentials,
    std::chrono::milliseconds timeout, std::string stream);

// The error code a Kinesis error type maps to for a producer: kNotFound and kInvalidArgument
// stop it (a missing stream, a request the service will never accept, bad credentials);
// everything else (throttling, internal failures, transport errors) is retried.
ErrorCode produce_error_code(std::string_view aws_error_type, bool transport_error);

}  // namespace freshet::cli
