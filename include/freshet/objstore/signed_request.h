// The set-up every SigV4-signed libcurl request of Freshet's own HTTP clients shares (the S3
// object store, s3_store.cc, and a processing worker's Kinesis, DynamoDB and Firehose client,
// src/process/remote.cc): libcurl signs with its built-in SigV4 (CURLOPT_AWS_SIGV4).
#pragma once

#include <curl/curl.h>

#include <string>

namespace freshet::objstore {

struct SignedRequest {
  std::string url;      // the whole URL, query included
  std::string region;   // "us-east-1"
  std::string service;  // the SigV4 service name: "s3", "kinesis", "dynamodb", "firehose"
  std::string access_key;
  std::string secret_key;
  long timeout_ms = 30'000;  // the whole request; connecting: at most 5 s of it
};

// Sets on h: the URL, SigV4 signing with the credentials, the header list (with "Expect:"
// appended, so that libcurl never waits for a 100-continue; the caller frees *headers with
// curl_slist_free_all after the request), the error buffer (CURL_ERROR_SIZE bytes), no
// signals, the timeouts, and the reply body appended to *body. headers, error_buffer and body
// must outlive the request; the strings of r are copied by libcurl.
void set_signed_request(CURL* h, const SignedRequest& r, curl_slist** headers, char* error_buffer,
                        std::string* body);

}  // namespace freshet::objstore
