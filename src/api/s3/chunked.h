// aws-chunked request bodies and the flexible checksums S3 clients send.
//
// aws-chunked (Content-Encoding: aws-chunked; x-amz-content-sha256: STREAMING-...):
//   <hex size>[;chunk-signature=<64 hex>]\r\n<size bytes>\r\n ... repeated, then
//   0[;chunk-signature=...]\r\n, then trailer lines "<name>:<value>\r\n" (for example
//   x-amz-checksum-crc32:<base64>, x-amz-trailer-signature:<hex>), then \r\n.
// Chunk signatures are parsed and skipped: Freshet does not verify SigV4 signatures.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "freshet/common/result.h"

namespace freshet::api::s3 {

struct DecodedBody {
  std::string bytes;
  std::vector<std::pair<std::string, std::string>> trailers;  // names lower-cased
};

// kInvalidArgument with a reason when the framing is broken.
Result<DecodedBody> decode_aws_chunked(std::string_view body);

// Checksum algorithms of x-amz-checksum-<name>: crc32, crc32c, crc64nvme, sha1, sha256.
// Returns the base64 of the big-endian checksum, or an empty string for an unknown name.
std::string checksum_base64(std::string_view algorithm, std::string_view bytes);

// CRC-64/NVME (reflected, polynomial 0xAD93D23594C93659, init and xorout all ones).
uint64_t crc64nvme(std::string_view bytes);

}  // namespace freshet::api::s3
