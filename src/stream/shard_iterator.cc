#include "freshet/stream/shard_iterator.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>
#include <vector>

#include "freshet/common/endian.h"
#include "freshet/common/base64.h"
#include "freshet/stream/names.h"

namespace freshet::stream {
namespace {

constexpr uint8_t kVersion = 1;
constexpr std::string_view kMacLabel = "freshet-shard-iterator/v1";
constexpr size_t kMacSize = 32;
constexpr size_t kFixedSize = 42;  // version .. account_id
constexpr size_t kMinRecordSize = kFixedSize + 1 + 1 + 1 + 1 + kMacSize;
constexpr size_t kMaxRecordSize =
    kFixedSize + 1 + kMaxRegionLength + 1 + kMaxStreamNameLength + kMacSize;
static_assert(base64_encoded_size(kMaxRecordSize) <= kMaxShardIteratorLength,
              "the largest iterator must fit the ShardIterator shape");
constexpr uint64_t kAccountIdLimit = 1'000'000'000'000;  // 10^12

Error invalid_iterator() { return Error(kInvalidShardIterator, "Invalid ShardIterator."); }

// HMAC-SHA256(key, label || body) into `tag`; false on a crypto library failure.
bool compute_tag(const ShardIteratorKey& key, const uint8_t* body, size_t body_len,
                 uint8_t (&tag)[kMacSize]) {
  std::vector<uint8_t> input;
  input.reserve(kMacLabel.size() + body_len);
  input.insert(input.end(), kMacLabel.begin(), kMacLabel.end());
  input.insert(input.end(), body, body + body_len);
  unsigned int len = 0;
  const unsigned char* out = HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                                  input.data(), input.size(), tag, &len);
  return out != nullptr && len == kMacSize;
}

// Formats Unix milliseconds like AWS's messages: "Thu Jan 22 01:22:02 UTC 2015".
std::string amz_time(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  char buf[64];
  if (gmtime_r(&secs, &tm) == nullptr ||
      std::strftime(buf, sizeof(buf), "%a %b %d %H:%M:%S UTC %Y", &tm) == 0) {
    return std::to_string(ms) + " ms";
  }
  return buf;
}

}  // namespace

Result<std::string> encode_shard_iterator(const ShardIteratorState& state,
                                          const ShardIteratorKey& key) {
  FRESHET_RETURN_IF_ERROR(validate_region(state.region));
  FRESHET_RETURN_IF_ERROR(validate_account_id(state.account_id));
  FRESHET_RETURN_IF_ERROR(validate_stream_name(state.stream_name));
  if (state.shard_index > kMaxShardIndex) {
    return Error(ErrorCode::kInvalidArgument, "shard index out of range");
  }
  uint64_t account = 0;
  for (const char c : state.account_id) {
    account = account * 10 + static_cast<uint64_t>(c - '0');
  }

  std::vector<uint8_t> rec(kFixedSize + 1 + state.region.size() + 1 + state.stream_name.size() +
                           kMacSize);
  uint8_t* p = rec.data();
  p[0] = kVersion;
  p[1] = 0;  // flags
  le::store<int64_t>(p + 2, state.issued_at_ms);
  le::store<uint64_t>(p + 10, state.stream_epoch);
  le::store<uint64_t>(p + 18, state.shard_index);
  le::store<uint64_t>(p + 26, state.position);
  le::store<uint64_t>(p + 34, account);
  size_t pos = kFixedSize;
  rec[pos++] = static_cast<uint8_t>(state.region.size());
  for (const char c : state.region) {
    rec[pos++] = static_cast<uint8_t>(c);
  }
  rec[pos++] = static_cast<uint8_t>(state.stream_name.size());
  for (const char c : state.stream_name) {
    rec[pos++] = static_cast<uint8_t>(c);
  }

  uint8_t tag[kMacSize];
  if (!compute_tag(key, rec.data(), pos, tag)) {
    return Error(ErrorCode::kFailed, "HMAC-SHA256 is unavailable in the crypto library");
  }
  std::copy(tag, tag + kMacSize, rec.begin() + static_cast<std::ptrdiff_t>(pos));
  return base64_encode(std::span<const uint8_t>(rec));
}

Result<ShardIteratorState> decode_shard_iterator(std::string_view token,
                                                 const ShardIteratorKey& key) {
  if (token.empty() || token.size() > kMaxShardIteratorLength) {
    return invalid_iterator();
  }
  auto decoded = base64_decode_bytes(token);
  if (!decoded.ok()) {
    return invalid_iterator();
  }
  const std::vector<uint8_t>& rec = decoded.value();
  if (rec.size() < kMinRecordSize || rec.size() > kMaxRecordSize) {
    return invalid_iterator();
  }

  // Authenticate before interpreting any field.
  const size_t body_len = rec.size() - kMacSize;
  uint8_t tag[kMacSize];
  if (!compute_tag(key, rec.data(), body_len, tag)) {
    return Error(ErrorCode::kFailed, "HMAC-SHA256 is unavailable in the crypto library");
  }
  if (CRYPTO_memcmp(tag, rec.data() + body_len, kMacSize) != 0) {
    return invalid_iterator();
  }

  const uint8_t* p = rec.data();
  if (p[0] != kVersion || p[1] != 0) {
    return invalid_iterator();
  }
  ShardIteratorState state;
  state.issued_at_ms = le::load<int64_t>(p + 2);
  state.stream_epoch = le::load<uint64_t>(p + 10);
  state.shard_index = le::load<uint64_t>(p + 18);
  state.position = le::load<uint64_t>(p + 26);
  const uint64_t account = le::load<uint64_t>(p + 34);
  if (state.shard_index > kMaxShardIndex || account >= kAccountIdLimit) {
    return invalid_iterator();
  }

  size_t pos = kFixedSize;
  const size_t region_len = rec[pos++];
  if (pos + region_len + 1 > body_len) {
    return invalid_iterator();
  }
  state.region.assign(reinterpret_cast<const char*>(p + pos), region_len);
  pos += region_len;
  const size_t name_len = rec[pos++];
  if (pos + name_len != body_len) {
    return invalid_iterator();
  }
  state.stream_name.assign(reinterpret_cast<const char*>(p + pos), name_len);

  if (!validate_region(state.region).ok() || !validate_stream_name(state.stream_name).ok()) {
    return invalid_iterator();
  }
  std::string digits = std::to_string(account);
  state.account_id = std::string(kAccountIdLength - digits.size(), '0') + digits;
  return state;
}

Status check_shard_iterator_age(const ShardIteratorState& state, int64_t now_ms,
                                int64_t lifetime_ms) {
  // 128-bit difference: neither value is trusted to be small, so int64 subtraction could wrap.
  const __int128 age = static_cast<__int128>(now_ms) - state.issued_at_ms;
  if (age <= lifetime_ms && age >= -lifetime_ms) {
    return Status::ok_status();
  }
  return Error(kExpiredShardIterator,
               "Iterator expired. The iterator was created at time " +
                   amz_time(state.issued_at_ms) + " while right now it is " + amz_time(now_ms) +
                   " which is further in the future than the tolerated delay of " +
                   std::to_string(lifetime_ms) + " milliseconds.");
}

Result<ShardIteratorState> open_shard_iterator(std::string_view token, const ShardIteratorKey& key,
                                               int64_t now_ms, int64_t lifetime_ms) {
  FRESHET_ASSIGN_OR_RETURN(ShardIteratorState state, decode_shard_iterator(token, key));
  FRESHET_RETURN_IF_ERROR(check_shard_iterator_age(state, now_ms, lifetime_ms));
  return state;
}

}  // namespace freshet::stream
